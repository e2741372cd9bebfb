package emu

import (
	"context"
	"sync"
)

// embedClaims are the products a batch of this process is working on, per
// generation, from reading their index state to writing it. A product can
// have a message in flight on each lane at once (a live edit and a
// backfill, queue.Lanes), often in two batches of the same worker; both
// would read the index before either wrote, and both would embed it: a
// price edit during a new generation's backfill would then cost an
// embedding. The second batch instead waits for the first to write, and
// then plans the product (skip, or metadata only).
type embedClaims struct {
	mu   sync.Mutex
	held map[claimKey]chan struct{}
}

type claimKey struct {
	gen string
	id  int64
}

// take claims the products of items in gen. It returns the items to go on
// with, the ones another batch holds (with channels closed when it is
// done), and the func that releases what it claimed.
func (c *embedClaims) take(gen string, items []*item) (keep, busy []*item, wait []<-chan struct{}, release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = map[claimKey]chan struct{}{}
	}
	var mine []claimKey
	for _, it := range items {
		k := claimKey{gen, it.id}
		if ch, ok := c.held[k]; ok {
			busy = append(busy, it)
			wait = append(wait, ch)
			continue
		}
		c.held[k] = make(chan struct{})
		mine = append(mine, k)
		keep = append(keep, it)
	}
	return keep, busy, wait, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, k := range mine {
			close(c.held[k])
			delete(c.held, k)
		}
	}
}

// waitAll waits until every channel is closed or ctx is done.
func waitAll(ctx context.Context, chans []<-chan struct{}) {
	for _, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}
