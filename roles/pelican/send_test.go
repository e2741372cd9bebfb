package pelican

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/cloudsim"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/queuemsg"
)

// TestSendKeepsEachProductsOrder sends batches of messages, several per
// product, in calls of 3 with 8 in flight, through the SQS latency layer
// with random delays (p50 1 ms, p99 30 ms), and reads them back: every
// product's messages arrive in the order they were sent, and a batch whose
// products are all distinct is sent in calls that overlap, at most 8 at
// once.
func TestSendKeepsEachProductsOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := pgqueue.New(pgtest.New(t), pgqueue.Options{MaxReceives: 5})
	t.Cleanup(func() { inner.Close() })
	lat := cloudsim.Latency{P50: time.Millisecond, P99: 30 * time.Millisecond}
	q := cloudsim.NewQueue(inner, cloudsim.SQSFIFO(true, lat), uint64(time.Now().UnixNano()))
	p := New(nil, q, Config{SendBatch: 3, SendConcurrency: 8}, slog.New(slog.DiscardHandler), nil)

	const products, versions = 20, 6
	var batch []queuemsg.Message
	for v := int64(1); v <= versions; v++ {
		for id := int64(1); id <= products; id++ {
			batch = append(batch, queuemsg.Message{Op: queuemsg.OpDelete, Source: queuemsg.SourceCatchup, ProductID: id, Version: v, ChangedAt: time.Now()})
		}
	}
	if _, err := p.send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	last := map[int64]int64{}
	for got := 0; got < products*versions; {
		msgs, err := inner.Receive(ctx, 100, time.Second, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var receipts []string
		for _, m := range msgs {
			qm, err := queuemsg.Decode(m.Body)
			if err != nil {
				t.Fatal(err)
			}
			if qm.Version != last[qm.ProductID]+1 {
				t.Fatalf("product %d: v%d arrived after v%d", qm.ProductID, qm.Version, last[qm.ProductID])
			}
			last[qm.ProductID] = qm.Version
			receipts = append(receipts, m.Receipt)
		}
		if err := inner.Ack(ctx, receipts); err != nil {
			t.Fatal(err)
		}
		got += len(msgs)
	}

	// 240 distinct products in calls of 3 at 30 ms a call: the calls
	// overlap, never more than 8 at once. Counted, not timed: a loaded
	// machine slows every call but does not serialize them.
	cq := &concurrentCalls{Queue: cloudsim.NewQueue(inner, cloudsim.SQSFIFO(true, cloudsim.Latency{P50: 30 * time.Millisecond}), 1)}
	p = New(nil, cq, Config{SendBatch: 3, SendConcurrency: 8}, slog.New(slog.DiscardHandler), nil)
	batch = batch[:0]
	for id := range int64(240) {
		batch = append(batch, queuemsg.Message{Op: queuemsg.OpDelete, Source: queuemsg.SourceCatchup, ProductID: 1000 + id, Version: 1, ChangedAt: time.Now()})
	}
	if _, err := p.send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n, most := cq.calls.Load(), cq.most.Load(); n != 80 || most < 2 || most > 8 {
		t.Fatalf("240 distinct products went in %d calls, at most %d at once; want 80 calls, 2 to 8 at once", n, most)
	}
}

// concurrentCalls counts Send calls and the most in flight at once.
type concurrentCalls struct {
	queue.Queue
	calls, now, most atomic.Int64
}

func (c *concurrentCalls) Send(ctx context.Context, msgs []queue.Outgoing) error {
	c.calls.Add(1)
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	return c.Queue.Send(ctx, msgs)
}

// refuseAll is the Postgres queue refusing every message for good.
type refuseAll struct{ *pgqueue.Queue }

func (q refuseAll) Send(_ context.Context, msgs []queue.Outgoing) error {
	re := &queue.RefusedError{}
	for i := range msgs {
		re.Refused = append(re.Refused, queue.Refusal{Index: i, Reason: "InvalidMessageContents"})
	}
	return re
}

// TestSendTakesAllRefusedForTheQueuesFailure: a lone message the queue
// refuses is set aside, but a queue refusing every message of a batch of
// several is failing itself (a setting, not the messages), so send returns
// an error for the caller to retry rather than isolating the whole batch.
func TestSendTakesAllRefusedForTheQueuesFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := pgqueue.New(pgtest.New(t), pgqueue.Options{MaxReceives: 5})
	t.Cleanup(func() { inner.Close() })
	p := New(nil, refuseAll{inner}, Config{SendBatch: 3}, slog.New(slog.DiscardHandler), nil)
	msg := func(id int64) queuemsg.Message {
		return queuemsg.Message{Op: queuemsg.OpDelete, Source: queuemsg.SourceOutbox, ProductID: id, Version: 1, ChangedAt: time.Now()}
	}
	rs, err := p.send(ctx, []queuemsg.Message{msg(1)})
	if err != nil || len(rs) != 1 || rs[0].msg.ProductID != 1 {
		t.Fatalf("lone refused message: %+v, %v; want it set aside", rs, err)
	}
	rs, err = p.send(ctx, []queuemsg.Message{msg(1), msg(2), msg(3), msg(4)})
	var re *queue.RefusedError
	if err == nil || !errors.As(err, &re) || rs != nil {
		t.Fatalf("every message refused: %+v, %v; want an error and nothing set aside", rs, err)
	}
}
