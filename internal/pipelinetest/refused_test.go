package pipelinetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/sqsqueue/sqstest"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/status"
)

// refusals is the set of messages (by deduplication id: product and
// version) that a test's queue refuses for good, and a switch that fails its
// whole send calls, as an unreachable or failing queue does.
type refusals struct {
	mu       sync.Mutex
	ids      map[string]bool
	products []int64
	// down fails every send call; failed counts the calls failed.
	down   atomic.Bool
	failed atomic.Int64
}

// transient is the error of a send call while down is set.
var transient = &smithy.GenericAPIError{Code: "InternalError", Message: "service unavailable (test)", Fault: smithy.FaultServer}

// fail reports whether a send call is to fail now, and counts it.
func (r *refusals) fail() bool {
	if r.down.Load() {
		r.failed.Add(1)
		return true
	}
	return false
}

func (r *refusals) add(productID, version int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]bool{}
	}
	r.ids[queuemsg.DedupID(productID, version)] = true
	r.products = append(r.products, productID)
}

// has reports whether a message is refused: by its deduplication id, or,
// for a catch-up's range, when the range holds a refused product.
func (r *refusals) has(dedup string, body []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, err := queuemsg.Decode(body); err == nil && m.Op == queuemsg.OpRange {
		return slices.ContainsFunc(r.products, func(id int64) bool { return m.Lo <= id && id <= m.Hi })
	}
	return r.ids[dedup]
}

// refusingQueue is the Postgres queue refusing the messages in refused as
// a queue refuses a message whose content it does not accept: those are not
// enqueued, the others are.
type refusingQueue struct {
	queue.Queue
	refused *refusals
}

func (q refusingQueue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	if q.refused.fail() {
		return fmt.Errorf("send %d messages: %w", len(msgs), transient)
	}
	var keep []queue.Outgoing
	var refused []queue.Refusal
	for i, m := range msgs {
		if q.refused.has(m.DedupID, m.Body) {
			refused = append(refused, queue.Refusal{Index: i, Reason: "InvalidMessageContents: refused by the test"})
			continue
		}
		keep = append(keep, m)
	}
	if err := q.Queue.Send(ctx, keep); err != nil {
		return err
	}
	if len(refused) > 0 {
		return &queue.RefusedError{Refused: refused}
	}
	return nil
}

// sqsRefusing returns an SQS queue (on moto) that refuses the messages in
// refused: a client middleware swaps their body for one over SQS's 256 KiB
// limit before the request is made, so moto itself refuses them, as SQS
// refuses a body it does not accept.
func sqsRefusing(t *testing.T, endpoint string, refused *refusals) queue.Queue {
	oversize := strings.Repeat("x", 300<<10)
	swap := middleware.InitializeMiddlewareFunc("refuse-some", func(ctx context.Context, in middleware.InitializeInput,
		next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if b, ok := in.Parameters.(*sqs.SendMessageBatchInput); ok {
			if refused.fail() {
				return middleware.InitializeOutput{}, middleware.Metadata{}, transient
			}
			c := *b
			c.Entries = make([]types.SendMessageBatchRequestEntry, len(b.Entries))
			for i, en := range b.Entries {
				if refused.has(aws.ToString(en.MessageDeduplicationId), []byte(aws.ToString(en.MessageBody))) {
					en.MessageBody = aws.String(oversize)
				}
				c.Entries[i] = en
			}
			in.Parameters = &c
		}
		return next.HandleInitialize(ctx, in)
	})
	return sqstest.New(t, endpoint, maxReceives, func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Initialize.Add(swap, middleware.Before) })
	})
}

// Issue 11 (3): a message the queue refuses for good (its content, not the
// queue's state) is isolated: its product is recorded as failed with the
// queue's reason (status, the UI's badge and the failure listing show it),
// and every other change keeps flowing, from the outbox and from the
// catch-up alike. A later edit of the product, which the queue accepts,
// clears the failure and is indexed.
func TestRefusedMessageIsIsolated(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name  string
		queue func(t *testing.T, e *env, refused *refusals) queue.Queue
	}{
		{"postgres", func(t *testing.T, e *env, refused *refusals) queue.Queue {
			return refusingQueue{Queue: e.q, refused: refused}
		}},
		{"sqs", func(t *testing.T, e *env, refused *refusals) queue.Queue {
			return sqsRefusing(t, sqstest.Endpoint(t), refused)
		}},
	}
	for _, b := range backends {
		for _, source := range []string{"outbox", "catchup"} {
			t.Run(b.name+"/"+source, func(t *testing.T) {
				t.Parallel()
				testRefused(t, source, b.queue)
			})
		}
	}
}

func testRefused(t *testing.T, source string, newQueue func(t *testing.T, e *env, refused *refusals) queue.Queue) {
	ctx := context.Background()
	e := newEnv(t)
	refused := &refusals{}
	q := newQueue(t, e, refused)
	cfg := e.emuConfig()
	cfg.Wait = time.Second
	e.startEmu(cfg, q, nil, nil)
	pcfg := e.pelicanConfig()
	pcfg.SendBatch = 10 // one SQS batch call holds the refused message and others

	ids := e.insert(ctx, 30, "first")
	bad := ids[4]
	refused.add(bad, 1)
	if source == "catchup" {
		// Only the catch-up sends these products, in ranges of one product
		// (the queue refuses a range that holds the bad one).
		e.exec(ctx, `DELETE FROM sync_outbox`)
		pcfg.BatchSize = 1
	} else {
		pcfg.SkipCatchup = true
	}
	e.startPelican(pcfg, q)
	// The catch-up's products, or the outbox's first batch, and then
	// changes that come after the refused one in the outbox.
	more := e.insert(ctx, 20, "later")
	e.exec(ctx, `UPDATE products SET price = 3 WHERE id = ANY($1)`, ids[5:15])

	waitFor(t, 60*time.Second, func() string {
		s, err := status.Get(ctx, e.pool, q, e.model)
		if err != nil {
			return err.Error()
		}
		if s.Products == 50 && s.Indexed == 49 && s.Failed == 1 && s.Outbox == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	fs, err := status.Failures(ctx, e.pool, e.model, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].ProductID != bad || !strings.Contains(fs[0].Error, "refused") {
		t.Fatalf("failures %+v, want product %d refused by the queue", fs, bad)
	}
	states, err := status.ProductStates(ctx, e.pool, e.model, []int64{bad, more[0]})
	if err != nil {
		t.Fatal(err)
	}
	if states[bad] != "failed" || states[more[0]] != "indexed" {
		t.Fatalf("sync states %v, want %d failed and %d indexed", states, bad, more[0])
	}
	if source == "catchup" {
		var open int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM catchup_passes WHERE finished_at IS NULL`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open != 0 {
			t.Fatalf("%d catch-up passes still open: the refused product's chunk was not marked done", open)
		}
	}

	// The queue fails every call for a while: pelican retries, isolates
	// nothing and loses nothing.
	refused.down.Store(true)
	e.exec(ctx, `UPDATE products SET price = 4 WHERE id = ANY($1)`, more[:5])
	newer := e.insert(ctx, 5, "during")
	waitFor(t, 30*time.Second, func() string {
		if n := refused.failed.Load(); n < 5 {
			return fmt.Sprintf("%d send calls failed so far", n)
		}
		return ""
	})
	if s := e.status(ctx); s.Failed != 1 || s.Outbox != 10 {
		t.Fatalf("while the queue fails: %+v; want only the refused product failed and the 10 changes kept in the outbox", s)
	}
	refused.down.Store(false)
	waitFor(t, 60*time.Second, func() string {
		states, err := status.ProductStates(ctx, e.pool, e.model, append(newer, more[:5]...))
		if err != nil {
			return err.Error()
		}
		for id, st := range states {
			if st != "indexed" {
				return fmt.Sprintf("product %d is %s", id, st)
			}
		}
		return ""
	})

	// The product is edited; the queue takes the new version.
	e.exec(ctx, `UPDATE products SET description = 'fixed' WHERE id = $1`, bad)
	waitFor(t, 60*time.Second, func() string {
		s, err := status.Get(ctx, e.pool, q, e.model)
		if err != nil {
			return err.Error()
		}
		if s.InSync() && s.Failed == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	waitFor(t, 30*time.Second, func() string { return e.diff(ctx) })
}
