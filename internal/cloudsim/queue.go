package cloudsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/sqsqueue"
)

// SQS limits of one request.
const (
	SQSMaxBatch        = 10        // entries per batch call, messages per ReceiveMessage
	SQSMaxMessageBytes = 256 << 10 // one message, and one batch's bodies together
	// sqsAckWorkers is how many DeleteMessageBatch or
	// ChangeMessageVisibilityBatch calls sqsqueue has in flight at once.
	sqsAckWorkers = 8
)

// SQSProfile is the latency and quota of each SQS FIFO action the queue
// backend uses. Quotas count API calls per second.
type SQSProfile struct {
	SendMessageBatch, ReceiveMessage, DeleteMessageBatch, ChangeMessageVisibilityBatch, GetQueueAttributes Action
}

// SQSFIFO is an SQS FIFO queue in high-throughput mode (or not) reached from
// the same region, with every call's latency drawn from lat.
func SQSFIFO(highThroughput bool, lat Latency) SQSProfile {
	// Without high throughput a FIFO queue takes 300 calls/s per action;
	// with it, far more (the regional figure, docs/deploy.md).
	calls := Rate{PerSecond: 300}
	if highThroughput {
		calls = Rate{PerSecond: 70000}
	}
	a := Action{Latency: lat, Quota: calls}
	return SQSProfile{SendMessageBatch: a, ReceiveMessage: a, DeleteMessageBatch: a, ChangeMessageVisibilityBatch: a,
		GetQueueAttributes: Action{Latency: lat}}
}

// Queue is a queue.Queue that behaves like SQS FIFO as sqsqueue calls it:
// Send issues one SendMessageBatch per 10 messages (or 256 KiB), one after
// the other; Receive one ReceiveMessage per 10 messages, one after the
// other, long-polling only the first; Ack and Extend one batch call per 10
// receipts, 8 at a time. Each call waits its latency and spends its quota
// before the wrapped queue does the work.
type Queue struct {
	inner                queue.Queue
	p                    SQSProfile
	sim                  *sim
	send, recv, del, vis *bucket
}

var _ queue.Queue = (*Queue)(nil)

// NewQueue wraps inner; seed makes the latencies repeatable.
func NewQueue(inner queue.Queue, p SQSProfile, seed uint64) *Queue {
	return &Queue{inner: inner, p: p, sim: newSim(seed),
		send: newBucket(p.SendMessageBatch.Quota), recv: newBucket(p.ReceiveMessage.Quota),
		del: newBucket(p.DeleteMessageBatch.Quota), vis: newBucket(p.ChangeMessageVisibilityBatch.Quota)}
}

// Name describes the wrapped backend.
func (q *Queue) Name() string { return q.inner.Name() + "+sqs-sim" }

// Send refuses a message over SQS's size limit, as sqsqueue does, and sends
// the others batch by batch.
func (q *Queue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	sizes := make([]int, 0, len(msgs))
	keep := make([]queue.Outgoing, 0, len(msgs))
	var refused []queue.Refusal
	for i, m := range msgs {
		if len(m.Body) > SQSMaxMessageBytes {
			refused = append(refused, queue.Refusal{Index: i, Reason: fmt.Sprintf("InvalidParameterValue: %d bytes, SQS allows %d", len(m.Body), SQSMaxMessageBytes)})
			continue
		}
		sizes = append(sizes, len(m.Body))
		keep = append(keep, m)
	}
	start := 0
	for _, end := range sqsqueue.Chunks(sizes) { // batches as the real client sends them
		if err := q.sim.call(ctx, q.p.SendMessageBatch, q.send, 1, "sqs SendMessageBatch calls/s"); err != nil {
			return fmt.Errorf("send messages %d-%d of %d: %w", start+1, end, len(keep), err)
		}
		if err := q.inner.Send(ctx, keep[start:end]); err != nil {
			return err
		}
		start = end
	}
	if len(refused) > 0 {
		return &queue.RefusedError{Refused: refused}
	}
	return nil
}

// Receive long-polls for up to 10 messages, then tops up without waiting
// while calls come back full.
func (q *Queue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error) {
	if max <= 0 {
		max = 1
	}
	var out []queue.Message
	for len(out) < max {
		n := min(max-len(out), SQSMaxBatch)
		if err := q.sim.call(ctx, q.p.ReceiveMessage, q.recv, 1, "sqs ReceiveMessage calls/s"); err != nil {
			if len(out) > 0 && ctx.Err() == nil {
				return out, nil
			}
			return out, fmt.Errorf("receive messages: %w", err)
		}
		w := wait
		if len(out) > 0 {
			w = 0
		}
		got, err := q.inner.Receive(ctx, n, w, visibility)
		out = append(out, got...)
		if err != nil || len(got) < n {
			return out, err
		}
	}
	return out, nil
}

// batches charges one call of a per 10 receipts, 8 in flight at a time.
func (q *Queue) batches(ctx context.Context, n int, a Action, b *bucket, name string) error {
	calls := (n + SQSMaxBatch - 1) / SQSMaxBatch
	for done := 0; done < calls; done += sqsAckWorkers {
		wave := min(sqsAckWorkers, calls-done)
		errs := make([]error, wave)
		var wg sync.WaitGroup
		for i := range wave {
			wg.Go(func() { errs[i] = q.sim.call(ctx, a, b, 1, name) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Ack deletes messages, charged as sqsqueue's DeleteMessageBatch calls.
func (q *Queue) Ack(ctx context.Context, receipts []string) error {
	if err := q.batches(ctx, len(receipts), q.p.DeleteMessageBatch, q.del, "sqs DeleteMessageBatch calls/s"); err != nil {
		return fmt.Errorf("delete %d messages: %w", len(receipts), err)
	}
	return q.inner.Ack(ctx, receipts)
}

// Extend changes visibility, charged as sqsqueue's
// ChangeMessageVisibilityBatch calls.
func (q *Queue) Extend(ctx context.Context, receipts []string, visibility time.Duration) error {
	if err := q.batches(ctx, len(receipts), q.p.ChangeMessageVisibilityBatch, q.vis, "sqs ChangeMessageVisibilityBatch calls/s"); err != nil {
		return fmt.Errorf("change visibility of %d messages: %w", len(receipts), err)
	}
	return q.inner.Extend(ctx, receipts, visibility)
}

// Depth costs two GetQueueAttributes calls (queue and dead-letter queue),
// made one after the other.
func (q *Queue) Depth(ctx context.Context) (queue.Depth, error) {
	for range 2 {
		if err := q.sim.call(ctx, q.p.GetQueueAttributes, nil, 0, ""); err != nil {
			return queue.Depth{}, err
		}
	}
	return q.inner.Depth(ctx)
}

// Redrive is passed through after one call's latency: it is an operator's
// action, not part of the pipeline being modelled.
func (q *Queue) Redrive(ctx context.Context) (int, error) {
	if err := q.sim.call(ctx, q.p.ReceiveMessage, nil, 0, ""); err != nil {
		return 0, err
	}
	return q.inner.Redrive(ctx)
}
