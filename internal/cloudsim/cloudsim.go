// Package cloudsim makes a local backend behave like a cloud service on the
// wire: every call waits a latency drawn from a long-tailed distribution,
// spends tokens from per-action rate quotas (a call over quota is refused
// with a quota.Error, as SQS answers ThrottlingException and Pinecone 429),
// and requests over the service's payload limits are refused. Queue wraps any
// queue.Queue as SQS FIFO seen through sqsqueue; Store wraps any
// vectorstore.Store as a Pinecone serverless namespace. The figures of the
// profiles, and where they come from, are in docs/deploy.md.
package cloudsim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/refarch/refarch/internal/quota"
)

// Latency is a log-normal distribution of call latencies given by its median
// and 99th percentile; P99 <= P50 gives a constant latency.
type Latency struct {
	P50, P99 time.Duration
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263

// Mean is the distribution's mean, for sizing.
func (l Latency) Mean() time.Duration {
	s := l.sigma()
	return time.Duration(float64(l.P50) * math.Exp(s*s/2))
}

func (l Latency) sigma() float64 {
	if l.P50 <= 0 || l.P99 <= l.P50 {
		return 0
	}
	return math.Log(float64(l.P99)/float64(l.P50)) / z99
}

// draw returns one latency from a standard normal sample z.
func (l Latency) draw(z float64) time.Duration {
	if l.P50 <= 0 {
		return 0
	}
	d := float64(l.P50) * math.Exp(l.sigma()*z)
	// A tail without a bound would stall a benchmark on one unlucky draw.
	return time.Duration(min(d, 20*float64(max(l.P99, l.P50))))
}

// Rate is a token bucket: PerSecond tokens a second, at most Burst saved
// (default: one second's worth). Zero PerSecond is unlimited.
type Rate struct {
	PerSecond float64
	Burst     float64
}

type bucket struct {
	mu     sync.Mutex
	rate   Rate
	tokens float64
	last   time.Time
}

func newBucket(r Rate) *bucket {
	if r.Burst <= 0 {
		r.Burst = max(r.PerSecond, 1)
	}
	return &bucket{rate: r, tokens: r.Burst, last: time.Now()}
}

// take spends n tokens if the bucket has them.
func (b *bucket) take(n float64) bool {
	if b == nil || b.rate.PerSecond <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.rate.Burst, b.tokens+now.Sub(b.last).Seconds()*b.rate.PerSecond)
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// Action is one API action's latency and quota.
type Action struct {
	Latency Latency
	// Quota limits the action's calls (or, where the profile says so, its
	// records or bytes) per second.
	Quota Rate
}

// sim is the latency source shared by a wrapper's actions.
type sim struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newSim(seed uint64) *sim { return &sim{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (s *sim) latency(l Latency) time.Duration {
	s.mu.Lock()
	z := s.rng.NormFloat64()
	s.mu.Unlock()
	return l.draw(z)
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call waits one round trip of a and spends n tokens of b, refusing the
// call with a quota.Error naming name when the bucket is short: a throttled
// request costs its round trip too.
func (s *sim) call(ctx context.Context, a Action, b *bucket, n float64, name string) error {
	if err := wait(ctx, s.latency(a.Latency)); err != nil {
		return err
	}
	if !b.take(n) {
		return &quota.Error{Quota: name, Err: fmt.Errorf("over %g/s", b.rate.PerSecond)}
	}
	return nil
}
