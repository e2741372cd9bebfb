package emu

import (
	"context"
	"sync"
	"time"

	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/internal/failpoint"
	"github.com/refarch/refarch/queue"
)

// Acknowledgement behind the work: a batch is finished when its index_state
// transaction commits, and the deletes from the queue follow in the
// background, so that a worker starts its next batch without waiting for
// the queue's round trip (tens of milliseconds on SQS). Until its ack
// succeeds, a message stays covered by the acker's heartbeat; a crash
// before that only causes a redelivery, which the version guard skips (the
// index already holds that version).
const (
	// ackPerCall is the most receipts one Ack call takes.
	ackPerCall = 100
	// ackAttempts is how often a failed ack is tried before the messages
	// are left to reappear after their visibility timeout.
	ackAttempts = 5
	// ackShutdown bounds the last flush on shutdown.
	ackShutdown = 10 * time.Second
)

// acker deletes settled messages from the queue, with up to Concurrency
// calls in flight, each taking whatever has settled meanwhile.
type acker struct {
	e       *Emu
	hb      *heartbeat
	wake    chan struct{}
	mu      sync.Mutex
	pending []queue.Message
}

// startAcker runs the acker's loops until stop.
func (e *Emu) startAcker(ctx context.Context) (a *acker, stop func()) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a = &acker{e: e, hb: e.startHeartbeat(actx, nil), wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for range e.cfg.Concurrency {
		wg.Go(func() { a.loop(actx) })
	}
	return a, func() {
		cancel()
		wg.Wait()
		a.hb.end()
		a.drain(context.WithoutCancel(ctx))
	}
}

// add queues messages for acknowledgement; the heartbeat covers them until
// then.
func (a *acker) add(msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	a.hb.add(msgs)
	a.mu.Lock()
	a.pending = append(a.pending, msgs...)
	a.mu.Unlock()
	a.signal()
}

func (a *acker) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// take removes up to ackPerCall pending messages, waking another loop when
// more remain.
func (a *acker) take() []queue.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := min(len(a.pending), ackPerCall)
	msgs := a.pending[:n:n]
	a.pending = a.pending[n:]
	if len(a.pending) > 0 {
		a.signal()
	}
	return msgs
}

func (a *acker) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		}
		for msgs := a.take(); len(msgs) > 0; msgs = a.take() {
			for attempt := 1; ; attempt++ {
				err := a.flush(ctx, msgs)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					a.putBack(msgs) // the last flush tries them
					return
				}
				if attempt == ackAttempts {
					a.e.log.WarnContext(ctx, "acknowledge messages: giving up; they reappear after their visibility timeout and are skipped as indexed",
						"err", err, "count", len(msgs), "attempts", attempt)
					a.hb.drop(msgs)
					break
				}
				if !a.e.quota.Note(ctx, err) {
					a.e.log.WarnContext(ctx, "acknowledge messages", "err", err, "count", len(msgs), "attempt", attempt)
				}
				if !backoff.Sleep(ctx, backoff.Delay(attempt, a.e.cfg.MinBackoff, a.e.cfg.MaxBackoff)) {
					a.putBack(msgs)
					return
				}
			}
		}
	}
}

func (a *acker) putBack(msgs []queue.Message) {
	a.mu.Lock()
	a.pending = append(a.pending, msgs...)
	a.mu.Unlock()
}

// flush acknowledges msgs. Redelivery after a failure is harmless: the
// index already holds the version, so the next delivery is skipped.
func (a *acker) flush(ctx context.Context, msgs []queue.Message) error {
	failpoint.Hit(failpoint.EmuBeforeAck)
	receipts := make([]string, len(msgs))
	for i, m := range msgs {
		receipts[i] = m.Receipt
	}
	ctx, cancel := context.WithTimeout(ctx, ackShutdown)
	defer cancel()
	if err := a.e.q.Ack(ctx, receipts); err != nil {
		return err
	}
	a.hb.drop(msgs)
	a.e.m.acked.Add(float64(len(msgs)))
	return nil
}

// drain is the last flush on shutdown, once the workers are done: what it
// cannot acknowledge in time reappears after the visibility timeout and is
// skipped as indexed.
func (a *acker) drain(ctx context.Context) {
	a.mu.Lock()
	msgs := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, ackShutdown)
	defer cancel()
	for start := 0; start < len(msgs); start += ackPerCall {
		chunk := msgs[start:min(start+ackPerCall, len(msgs))]
		if err := a.flush(ctx, chunk); err != nil {
			a.e.log.WarnContext(ctx, "acknowledge messages on shutdown: they reappear after their visibility timeout and are skipped as indexed",
				"err", err, "count", len(msgs)-start)
			return
		}
	}
}
