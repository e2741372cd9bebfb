//go:build race

package search_test

// raceEnabled is true under the race detector, which makes the embedding
// model about fifty times slower.
const raceEnabled = true
