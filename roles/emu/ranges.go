package emu

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
)

// A range message (queuemsg.OpRange) stands for every product with an id in
// lo..hi whose current version the index lacks: a catch-up sends one per
// chunk of ids, so that a bootstrap of a million products costs the queue
// thousands of messages, not a million. Emu reads what the index lacks when
// it works the message (expand), works those products in batches of
// BackfillBatch like any others, and acknowledges the message once every
// one is done. When a product fails on its own, the others are written and
// the message is released for a retry, with a delay growing with its
// receive count, as a failed message is: worked again, it stands only for
// what is still missing, and at its last receive emu records those products
// as failed and the queue dead-letters the message (G6), which a redrive
// brings back.

// rangeMsg is a received range message.
type rangeMsg struct {
	msg queue.Message
	r   queuemsg.Message
}

// handleRanges works the range messages of a batch, one after the other,
// under the batch's heartbeat; on shutdown it hands back those not done.
func (e *Emu) handleRanges(ctx context.Context, hb *heartbeat, targets []*target, ranges []rangeMsg) {
	for i, rm := range ranges {
		if ctx.Err() != nil || !e.handleRange(ctx, hb, targets, rm) {
			msgs := make([]queue.Message, 0, len(ranges)-i)
			for _, rm := range ranges[i:] {
				msgs = append(msgs, rm.msg)
			}
			hb.forget(msgs)
			e.handBack(ctx, msgs)
			return
		}
	}
}

// handleRange works one range message to the end and reports whether it
// did (false: emu is shutting down, and the message is to be handed back).
func (e *Emu) handleRange(ctx context.Context, hb *heartbeat, targets []*target, rm rangeMsg) bool {
	var items []*item
	for failures := 1; ; failures++ {
		var err error
		if items, err = e.expand(ctx, targets, rm.r); err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		e.m.failures.WithLabelValues("read").Inc()
		d := backoff.Delay(failures, e.cfg.MinBackoff, e.cfg.MaxBackoff)
		e.log.WarnContext(ctx, "read a range's products, backing off", "lo", rm.r.Lo, "hi", rm.r.Hi, "err", err, "attempt", failures, "delay", d)
		if !backoff.Sleep(ctx, d) {
			return false
		}
	}
	now := time.Now()
	for _, it := range items {
		it.handled = now
	}
	for start := 0; start < len(items); start += e.cfg.BackfillBatch {
		e.workRange(ctx, hb, targets, items[start:min(len(items), start+e.cfg.BackfillBatch)])
		if ctx.Err() != nil {
			return false
		}
	}
	var failed []*item
	for _, it := range items {
		if it.failed != nil {
			failed = append(failed, it)
		}
	}
	hb.forget([]queue.Message{rm.msg})
	if len(failed) == 0 {
		e.ack(ctx, []queue.Message{rm.msg})
		return true
	}
	for _, it := range failed {
		e.log.WarnContext(ctx, "product of a range failed on its own, range released for retry", "product_id", it.id,
			"lo", rm.r.Lo, "hi", rm.r.Hi, "receive_count", rm.msg.ReceiveCount, "err", it.failed)
	}
	if e.releaseFailed(ctx, rm.msg) {
		for _, it := range failed {
			e.recordFailure(ctx, it, it.failed)
		}
	}
	return true
}

// workRange works one batch of a range's products. A panic is logged, and
// the batch's products are worked one by one, so that only the one that
// panics alone is failed.
func (e *Emu) workRange(ctx context.Context, hb *heartbeat, targets []*target, items []*item) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		e.log.ErrorContext(ctx, "worker panicked on a range's products", "panic", fmt.Sprint(r),
			"stack", string(debug.Stack()), "products", len(items))
		if len(items) == 1 {
			items[0].failed = fmt.Errorf("worker panicked: %v", r)
			return
		}
		for _, it := range items {
			e.workRange(ctx, hb, targets, []*item{it})
		}
	}()
	e.work(ctx, hb, targets, items)
}

// expand lists the products of range r that an index it is for lacks: those
// whose current version is not indexed (leaving out those whose change is
// still in the outbox, which the live lane brings), and deleted products
// still indexed, each with the version a catch-up would have sent for it.
func (e *Emu) expand(ctx context.Context, targets []*target, r queuemsg.Message) ([]*item, error) {
	byID := map[int64]*item{}
	var items []*item
	add := func(id, version int64) {
		it := byID[id]
		if it == nil {
			it = &item{id: id, ranged: true, gens: map[string]bool{}}
			if r.Generation == "" {
				it.gens = nil
			}
			byID[id] = it
			items = append(items, it)
		}
		if it.gens != nil {
			it.gens[r.Generation] = true
		}
		it.version = max(it.version, version)
	}
	for _, t := range targets {
		if r.Generation != "" && t.name != r.Generation {
			continue
		}
		st := indexstate.New(e.pool, t.name)
		behind, err := st.Behind(ctx, r.Lo, r.Hi)
		if err != nil {
			return nil, err
		}
		orphans, err := st.Orphans(ctx, r.Lo, r.Hi)
		if err != nil {
			return nil, err
		}
		for _, b := range behind {
			add(b.ProductID, b.Version)
		}
		for _, o := range orphans {
			// The deleted row's last version is unknown; one past the
			// indexed one orders the delete after what the index holds.
			add(o.ProductID, o.Version+1)
		}
	}
	slices.SortFunc(items, func(a, b *item) int { return cmp.Compare(a.id, b.id) })
	return items, nil
}
