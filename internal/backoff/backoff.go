// Package backoff holds the jittered exponential delay of every retry loop
// (pelican, emu, the Pinecone store) and a sleep that ends early with its context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is a jittered exponential delay: between half and all of
// lo*2^attempt, capped at hi.
func Delay(attempt int, lo, hi time.Duration) time.Duration {
	d := hi
	if attempt < 30 {
		d = min(hi, lo<<attempt)
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx is done, reporting whether it waited the whole
// time.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
