package cloudsim

import "time"

// Draws returns n latencies of l from a seeded source.
func Draws(l Latency, n int, seed uint64) []time.Duration {
	s := newSim(seed)
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = s.latency(l)
	}
	return out
}
