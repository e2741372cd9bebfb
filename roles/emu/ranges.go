package emu

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
)

// A range message (queuemsg.OpRange) stands for every product with an id in
// lo..hi whose current version the index lacks: a catch-up sends one per
// chunk of ids, so that a bootstrap of a million products costs the queue
// thousands of messages, not a million. Emu reads what the index lacks when
// it works the message (expand), works those products in batches of
// BackfillBatch like any other, and acknowledges the message once every one
// is done. A product that fails on its own is sent alone, as the catch-up
// message it stands for, so that it takes the per-product way to the
// dead-letter queue (G6) and the rest of the range goes on.

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
// A product sent alone that the queue did not take leaves the message to
// come back after a backoff: expanding it again finds what is still
// missing.
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
	if slices.ContainsFunc(items, func(it *item) bool { return it.unsent }) {
		hb.forget([]queue.Message{rm.msg})
		e.release(ctx, []queue.Message{rm.msg}, backoff.Delay(rm.msg.ReceiveCount, e.cfg.MinBackoff, e.cfg.Visibility))
		return true
	}
	e.ack(ctx, []queue.Message{rm.msg})
	hb.drop([]queue.Message{rm.msg})
	return true
}

// workRange works one batch of a range's products. A panic is logged and
// its products sent alone, so that only the one that panics alone is
// dead-lettered.
func (e *Emu) workRange(ctx context.Context, hb *heartbeat, targets []*target, items []*item) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		e.log.ErrorContext(ctx, "worker panicked on a range's products; sending them alone", "panic", fmt.Sprint(r),
			"stack", string(debug.Stack()), "products", len(items))
		e.sendAlone(ctx, items, fmt.Errorf("worker panicked: %v", r))
	}()
	e.work(ctx, hb, targets, items)
}

// expand lists the products of range r that an index it is for lacks: those
// whose current version is not indexed (leaving out those whose change is
// still in the outbox, which the live lane brings), and deleted products
// still indexed. Each comes with the message a catch-up would have sent for
// it alone.
func (e *Emu) expand(ctx context.Context, targets []*target, r queuemsg.Message) ([]*item, error) {
	byID := map[int64]*item{}
	var items []*item
	add := func(m queuemsg.Message) {
		it := byID[m.ProductID]
		if it == nil {
			it = &item{id: m.ProductID, gens: map[string]bool{}}
			if r.Generation == "" {
				it.gens = nil
			}
			byID[m.ProductID] = it
			items = append(items, it)
		}
		if it.gens != nil {
			it.gens[r.Generation] = true
		}
		if it.alone == nil || m.Version > it.version {
			it.version, it.alone = m.Version, &m
		}
	}
	now := time.Now()
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
			add(queuemsg.Message{Op: queuemsg.OpUpsert, Source: r.Source, ProductID: b.ProductID, Version: b.Version,
				ChangedAt: b.UpdatedAt, New: &product.Product{ID: b.ProductID, Version: b.Version}, Generation: r.Generation})
		}
		for _, o := range orphans {
			// The deleted row's last version is unknown; one past the
			// indexed one orders the delete after what the index holds.
			add(queuemsg.Message{Op: queuemsg.OpDelete, Source: r.Source, ProductID: o.ProductID, Version: o.Version + 1,
				ChangedAt: now, Generation: r.Generation})
		}
	}
	slices.SortFunc(items, func(a, b *item) int { return int(a.id - b.id) })
	return items, nil
}

// sendAlone sends, for each item of a range, the message it stands for, so
// that a product that failed on its own is retried and dead-lettered by
// itself. Its deduplication id is its own: the product's change may have
// been sent with the plain one. A product the queue refuses for good is
// recorded as failed; one the queue did not take is marked unsent, and its
// range comes back.
func (e *Emu) sendAlone(ctx context.Context, items []*item, why error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	out := make([]queue.Outgoing, 0, len(items))
	sent := make([]*item, 0, len(items))
	for _, it := range items {
		o, err := queuemsg.Outgoing(*it.alone)
		if err != nil {
			e.log.ErrorContext(ctx, "encode a range's product alone", "product_id", it.id, "err", err)
			it.unsent = true
			continue
		}
		o.DedupID += "-alone-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		out = append(out, o)
		sent = append(sent, it)
		e.log.WarnContext(ctx, "product of a range failed on its own, sent alone for retry", "product_id", it.id, "err", why)
	}
	err := e.q.Send(ctx, out)
	var refused *queue.RefusedError
	switch {
	case errors.As(err, &refused):
		for _, r := range refused.Refused {
			if r.Index >= 0 && r.Index < len(sent) {
				e.recordFailure(ctx, sent[r.Index], fmt.Errorf("%w; the queue refused it for good: %s", why, r.Reason))
			}
		}
	case err != nil:
		e.log.ErrorContext(ctx, "send a range's products alone; the range comes back", "err", err, "products", len(items))
		for _, it := range sent {
			it.unsent = true
		}
	}
	e.m.poison.Add(float64(len(items)))
}
