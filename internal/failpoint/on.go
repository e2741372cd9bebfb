//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var (
	mu    sync.Mutex
	armed = sync.OnceValue(parse)
	hits  = map[string]int{}
)

// parse reads REFARCH_FAILPOINTS into the hit number each name kills at.
func parse() map[string]int {
	out := map[string]int{}
	for _, f := range strings.Split(os.Getenv("REFARCH_FAILPOINTS"), ",") {
		name, n, found := strings.Cut(strings.TrimSpace(f), "@")
		if name == "" {
			continue
		}
		at := 1
		if found {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				at = v
			}
		}
		out[name] = at
	}
	return out
}

// Hit SIGKILLs the process when name is armed and this is its chosen hit.
func Hit(name string) {
	at, ok := armed()[name]
	if !ok {
		return
	}
	mu.Lock()
	hits[name]++
	n := hits[name]
	mu.Unlock()
	if n == at {
		fmt.Fprintf(os.Stderr, "failpoint %s: SIGKILL\n", name)
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // nothing runs after it
		select {}
	}
}
