package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/queue"
)

// ackQueue is a queue whose acknowledgements fail while failing is above
// zero (one call spends one), or, while hold is set, block until their
// context ends, which clears hold.
type ackQueue struct {
	queue.Queue
	failing  atomic.Int64
	hold     atomic.Bool
	received atomic.Int64
	acked    atomic.Int64
}

func (q *ackQueue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error) {
	msgs, err := q.Queue.Receive(ctx, max, wait, visibility)
	q.received.Add(int64(len(msgs)))
	return msgs, err
}

func (q *ackQueue) Ack(ctx context.Context, receipts []string) error {
	if q.failing.Add(-1) >= 0 {
		return errors.New("delete messages: service unavailable")
	}
	if q.hold.Load() {
		<-ctx.Done()
		q.hold.Store(false)
		return ctx.Err()
	}
	if err := q.Queue.Ack(ctx, receipts); err != nil {
		return err
	}
	q.acked.Add(int64(len(receipts)))
	return nil
}

// Acknowledgements follow the commit in the background: when they fail for
// good after the products were indexed, the messages come back after their
// visibility timeout, are skipped as indexed and acknowledged then. Nothing
// is lost and nothing is dead-lettered.
func TestAckFailureAfterCommitLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	q := &ackQueue{Queue: e.q}
	// Enough failures that the acker gives up on the first batches.
	q.failing.Store(20)
	e.startPelican(e.pelicanConfig(), nil)
	cfg := e.emuConfig()
	cfg.Visibility = time.Second
	e.startEmu(cfg, q, nil, nil)
	ids := e.insert(ctx, 40, "acks")
	e.exec(ctx, `UPDATE products SET description = description || ' edited' WHERE id = ANY($1)`, ids[:10])
	e.converged(ctx, 60*time.Second)
	if q.failing.Load() >= 0 {
		t.Fatalf("only %d acknowledgements were refused, want 20", 20-q.failing.Load())
	}
	if q.received.Load() <= q.acked.Load() {
		t.Fatalf("received %d messages, acknowledged %d: no redelivery after the refused acks", q.received.Load(), q.acked.Load())
	}
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 {
		t.Fatalf("refused acks dead-lettered or failed products: %+v", s)
	}
}

// On shutdown the acknowledgements still pending are sent before Run
// returns, even when the queue answers slowly: the messages of indexed
// products are gone from the queue, not left hidden until their
// visibility timeout ends.
func TestEmuShutdownFlushesPendingAcks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	q := &ackQueue{Queue: e.q}
	q.hold.Store(true)
	e.startPelican(e.pelicanConfig(), nil)
	cfg := e.emuConfig()
	cfg.Visibility = 10 * time.Minute
	m := e.startEmu(cfg, q, nil, nil)
	// Inserted after the start-up catch-up, which could also send them in
	// a range (a 31st message in flight).
	waitFor(t, 30*time.Second, e.startupPassDone(ctx))
	e.insert(ctx, 30, "shutdown-acks")
	waitFor(t, 30*time.Second, func() string {
		if _, indexed := e.indexedCount(ctx); indexed != 30 {
			return fmt.Sprintf("%d of 30 indexed", indexed)
		}
		return ""
	})
	if d, err := e.q.Depth(ctx); err != nil || d.InFlight != 30 {
		t.Fatalf("indexed with acks held, the queue is %+v (%v), want 30 in flight", d, err)
	}
	// The acks in flight end with the shutdown; the last flush finds the
	// queue answering again.
	if err := m.stop(); err != nil {
		t.Fatalf("emu stopped with %v", err)
	}
	if d, err := e.q.Depth(ctx); err != nil || d.InFlight != 0 || d.Visible != 0 {
		t.Fatalf("after shutdown the queue is %+v (%v), want every message acknowledged", d, err)
	}
}
