//go:build !failpoints

package failpoint

// Hit does nothing: failpoints are compiled in only with the failpoints tag.
func Hit(string) {}
