// Package queuetest is the one conformance suite every queue.Queue backend
// passes (in the style of River's driver tests). A backend's test calls Run
// with a constructor that returns a new, empty queue for each subtest.
//
// The suite pins down the semantics pelican and emu rely on: FIFO per group
// with one group in flight at a time (SQS may hand one consumer several
// messages of a group in one batch, in order; no other consumer gets that
// group meanwhile), at-least-once delivery with visibility timeouts,
// heartbeats, dead-lettering after N receives, deduplication, long polling
// and receipts that go stale on redelivery.
//
// Visibility timeouts are whole seconds (SQS accepts nothing finer), and
// every wait is a condition polled against a deadline, never a bare sleep
// used as an assertion.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/queue"
)

// NewQueue returns a new, empty queue that dead-letters a message on the
// receive after its maxReceives-th. It registers its own cleanup.
type NewQueue func(t *testing.T, maxReceives int) queue.Queue

// Option adjusts a Run.
type Option func(*config)

type config struct {
	skip map[string]string
}

// Skip skips the named subtest with reason, for a stand-in server that is
// known to differ from the real service there. The reason is printed.
func Skip(name, reason string) Option {
	return func(c *config) { c.skip[name] = reason }
}

// limit bounds every condition the suite waits for.
const limit = 30 * time.Second

// Run runs the conformance suite against the backend newQueue builds.
func Run(t *testing.T, newQueue NewQueue, opts ...Option) {
	cfg := config{skip: map[string]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, newQueue NewQueue)
	}{
		{"SendReceiveAck", testSendReceiveAck},
		{"BatchSend", testBatchSend},
		{"Dedup", testDedup},
		{"DedupOutlivesAck", testDedupOutlivesAck},
		{"VisibilityTimeoutRedelivers", testVisibilityTimeout},
		{"ExtendIsAHeartbeat", testExtendHeartbeat},
		{"ExtendZeroReleases", testExtendZero},
		{"GroupOrderOneInFlight", testGroupOrder},
		{"DeadLetterAndRedrive", testDeadLetter},
		{"Depth", testDepth},
		{"LongPollWakesOnSend", testLongPoll},
		{"CancelEndsReceive", testCancel},
		{"ConcurrentConsumers", testConcurrentConsumers},
		{"StaleReceiptAfterRedelivery", testStaleReceipt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if reason, ok := cfg.skip[tc.name]; ok {
				t.Skip(reason)
			}
			t.Parallel()
			tc.fn(t, newQueue)
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*limit)
	t.Cleanup(cancel)
	return ctx
}

func msg(group string, seq int) queue.Outgoing {
	return queue.Outgoing{
		Group:   group,
		DedupID: fmt.Sprintf("%s-%d", group, seq),
		Body:    fmt.Appendf(nil, `{"group":%q,"seq":%d}`, group, seq),
	}
}

// seqOf reads back the sequence number msg put in a body.
func seqOf(t *testing.T, m queue.Message) int {
	t.Helper()
	_, after, ok := strings.Cut(string(m.Body), `"seq":`)
	n, err := strconv.Atoi(strings.TrimSuffix(after, "}"))
	if !ok || err != nil {
		t.Fatalf("message %s has an unexpected body %q", m.ID, m.Body)
	}
	return n
}

func send(t *testing.T, q queue.Queue, msgs ...queue.Outgoing) {
	t.Helper()
	if err := q.Send(testContext(t), msgs); err != nil {
		t.Fatalf("send %d messages: %v", len(msgs), err)
	}
}

func receive(t *testing.T, q queue.Queue, max int, wait, visibility time.Duration) []queue.Message {
	t.Helper()
	msgs, err := q.Receive(testContext(t), max, wait, visibility)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(msgs) > max {
		t.Fatalf("receive(max %d) returned %d messages", max, len(msgs))
	}
	return msgs
}

// receiveN receives until it holds n messages, failing after the limit.
func receiveN(t *testing.T, q queue.Queue, n int, visibility time.Duration) []queue.Message {
	t.Helper()
	var out []queue.Message
	deadline := time.Now().Add(limit)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages within %v", len(out), n, limit)
		}
		out = append(out, receive(t, q, min(n-len(out), 10), time.Second, visibility)...)
	}
	if len(out) != n {
		t.Fatalf("received %d messages, want %d", len(out), n)
	}
	return out
}

func ack(t *testing.T, q queue.Queue, msgs ...queue.Message) {
	t.Helper()
	if err := q.Ack(testContext(t), receipts(msgs)); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func receipts(msgs []queue.Message) []string {
	r := make([]string, len(msgs))
	for i, m := range msgs {
		r[i] = m.Receipt
	}
	return r
}

func bodies(msgs []queue.Message) []string {
	b := make([]string, len(msgs))
	for i, m := range msgs {
		b[i] = string(m.Body)
	}
	slices.Sort(b)
	return b
}

// waitDepth waits until the queue reports want (SQS counts settle shortly
// after the calls that change them).
func waitDepth(t *testing.T, q queue.Queue, want queue.Depth) {
	t.Helper()
	testkit.WaitFor(t, limit, func() string {
		got, err := q.Depth(testContext(t))
		if err != nil {
			t.Fatalf("depth: %v", err)
		}
		if got != want {
			return fmt.Sprintf("depth is %+v, want %+v", got, want)
		}
		return ""
	})
}

// expectNone asserts that a receive of up to wait returns nothing.
func expectNone(t *testing.T, q queue.Queue, wait time.Duration, why string) {
	t.Helper()
	if msgs := receive(t, q, 10, wait, 30*time.Second); len(msgs) > 0 {
		t.Fatalf("%s, but received %q", why, bodies(msgs))
	}
}

func testSendReceiveAck(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	if q.Name() == "" {
		t.Error("Name() is empty")
	}
	waitDepth(t, q, queue.Depth{})
	before := time.Now()
	send(t, q, queue.Outgoing{Group: "p1", DedupID: "p1-v1", Body: []byte(`{"op":"insert"}`)})
	m := receiveN(t, q, 1, 30*time.Second)[0]
	if string(m.Body) != `{"op":"insert"}` || m.Group != "p1" || m.ReceiveCount != 1 {
		t.Errorf("received body %q group %q count %d, want the sent message received once", m.Body, m.Group, m.ReceiveCount)
	}
	if m.ID == "" || m.Receipt == "" {
		t.Errorf("received ID %q receipt %q, want both set", m.ID, m.Receipt)
	}
	if m.SentAt.Before(before.Add(-time.Minute)) || m.SentAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("SentAt %v is not near the send at %v", m.SentAt, before)
	}
	waitDepth(t, q, queue.Depth{InFlight: 1})
	ack(t, q, m)
	waitDepth(t, q, queue.Depth{})
	expectNone(t, q, 0, "the only message was acknowledged")
}

func testBatchSend(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	var out []queue.Outgoing
	for i := range 25 {
		out = append(out, msg(fmt.Sprintf("g%02d", i), 1))
	}
	// Large bodies make the batch exceed one SQS request (256 KB).
	big := strings.Repeat("x", 100<<10)
	for i := range 4 {
		out = append(out, queue.Outgoing{Group: fmt.Sprintf("big%d", i), DedupID: fmt.Sprintf("big%d", i), Body: []byte(fmt.Sprintf("%d%s", i, big))})
	}
	send(t, q, out...)
	want := make([]string, len(out))
	for i, o := range out {
		want[i] = string(o.Body)
	}
	slices.Sort(want)
	var got []queue.Message
	deadline := time.Now().Add(limit)
	for len(got) < len(out) && time.Now().Before(deadline) {
		// Hidden for longer than the loop may take: with 30 s, a loaded
		// moto let the first messages come back before the last were
		// received, and they were received twice.
		got = append(got, receive(t, q, 50, time.Second, 2*limit)...)
	}
	if !slices.Equal(bodies(got), want) {
		t.Fatalf("received %d messages, want the %d sent, each once", len(got), len(out))
	}
	ack(t, q, got...)
	waitDepth(t, q, queue.Depth{})
}

func testDedup(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	send(t, q, queue.Outgoing{Group: "a", DedupID: "a-1", Body: []byte("first")})
	send(t, q, queue.Outgoing{Group: "a", DedupID: "a-1", Body: []byte("repeat")})
	send(t, q,
		queue.Outgoing{Group: "b", DedupID: "b-1", Body: []byte("b1")},
		queue.Outgoing{Group: "b", DedupID: "b-1", Body: []byte("b1 repeat in the same batch")},
		queue.Outgoing{Group: "c", DedupID: "c-1", Body: []byte("c1")},
	)
	waitDepth(t, q, queue.Depth{Visible: 3})
	got := receiveN(t, q, 3, 30*time.Second)
	if want := []string{"b1", "c1", "first"}; !slices.Equal(bodies(got), want) {
		t.Fatalf("received %q, want %q", bodies(got), want)
	}
	ack(t, q, got...)
	waitDepth(t, q, queue.Depth{})
}

func testDedupOutlivesAck(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	send(t, q, queue.Outgoing{Group: "a", DedupID: "a-1", Body: []byte("first")})
	ack(t, q, receiveN(t, q, 1, 30*time.Second)...)
	// The window outlives the message: a late repeat is still dropped.
	send(t, q, queue.Outgoing{Group: "a", DedupID: "a-1", Body: []byte("late repeat")})
	expectNone(t, q, time.Second, "a repeat within the dedup window was sent")
	waitDepth(t, q, queue.Depth{})
}

func testVisibilityTimeout(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	send(t, q, msg("p", 1))
	first := receiveN(t, q, 1, 2*time.Second)[0]
	expectNone(t, q, 0, "the message is in flight")
	// Not acknowledged: it comes back once the 2 s timeout passes.
	again := receiveN(t, q, 1, 30*time.Second)[0]
	if again.ID != first.ID || string(again.Body) != string(first.Body) {
		t.Fatalf("redelivered %s %q, want %s %q", again.ID, again.Body, first.ID, first.Body)
	}
	if again.ReceiveCount != 2 {
		t.Errorf("redelivery has ReceiveCount %d, want 2", again.ReceiveCount)
	}
	if again.Receipt == first.Receipt {
		t.Error("redelivery has the same receipt as the first delivery")
	}
	ack(t, q, again)
	waitDepth(t, q, queue.Depth{})
}

func testExtendHeartbeat(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	ctx := testContext(t)
	send(t, q, msg("p", 1))
	m := receiveN(t, q, 1, 2*time.Second)[0]
	// Four rounds of one second each outlast the first 2 s timeout twice
	// over; each heartbeat pushes the timeout 3 s past itself, a margin of
	// 2 s over the round that follows it.
	for range 4 {
		if err := q.Extend(ctx, []string{m.Receipt}, 3*time.Second); err != nil {
			t.Fatalf("extend: %v", err)
		}
		expectNone(t, q, time.Second, "the holder kept extending the visibility timeout")
	}
	ack(t, q, m)
	waitDepth(t, q, queue.Depth{})
}

func testExtendZero(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	ctx := testContext(t)
	send(t, q, msg("p", 1))
	m := receiveN(t, q, 1, time.Hour)[0]
	if err := q.Extend(ctx, []string{m.Receipt}, 0); err != nil {
		t.Fatalf("extend to zero: %v", err)
	}
	// Hidden for an hour unless Extend(0) released it.
	again := receiveN(t, q, 1, 30*time.Second)[0]
	if again.ID != m.ID || again.ReceiveCount != 2 {
		t.Fatalf("after release received %s (count %d), want %s (count 2)", again.ID, again.ReceiveCount, m.ID)
	}
	ack(t, q, again)
}

// orderChecker asserts that each group's messages arrive in sequence.
type orderChecker struct {
	mu   sync.Mutex
	next map[string]int
}

func (o *orderChecker) see(t *testing.T, m queue.Message) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.next == nil {
		o.next = map[string]int{}
	}
	want := o.next[m.Group] + 1
	if got := seqOf(t, m); got != want {
		t.Errorf("group %s: received seq %d, want %d", m.Group, got, want)
	}
	o.next[m.Group] = want
}

func testGroupOrder(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	counts := map[string]int{"A": 3, "B": 2, "C": 1}
	send(t, q, msg("A", 1), msg("A", 2), msg("B", 1), msg("A", 3), msg("B", 2), msg("C", 1))
	var order orderChecker

	// Consumer 1 takes one message: the head of some group.
	held := receiveN(t, q, 1, time.Hour)[0]
	order.see(t, held)
	busy := held.Group

	// Consumer 2 takes everything else it can get: the other groups, but
	// nothing more of the busy one.
	var other []queue.Message
	deadline := time.Now().Add(limit)
	for {
		got := receive(t, q, 10, time.Second, time.Hour)
		if len(got) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("consumer 2 kept receiving past the limit")
		}
		for _, m := range got {
			if m.Group == busy {
				t.Fatalf("consumer 2 received %s of group %s while consumer 1 holds %q", m.Body, busy, held.Body)
			}
			order.see(t, m)
		}
		other = append(other, got...)
	}
	seen := map[string]bool{}
	for _, m := range other {
		seen[m.Group] = true
	}
	for g := range counts {
		if g != busy && !seen[g] {
			t.Errorf("consumer 2 got nothing of idle group %s", g)
		}
	}

	// Drain the rest, one batch at a time, acknowledging as we go.
	total := 1 + len(other)
	ack(t, q, append(other, held)...)
	for total < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of 6 messages within %v", total, limit)
		}
		got := receive(t, q, 10, time.Second, time.Hour)
		for _, m := range got {
			order.see(t, m)
		}
		total += len(got)
		ack(t, q, got...)
	}
	for g, n := range counts {
		if order.next[g] != n {
			t.Errorf("group %s: received %d messages, want %d", g, order.next[g], n)
		}
	}
	waitDepth(t, q, queue.Depth{})
}

func testDeadLetter(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 2)
	ctx := testContext(t)
	send(t, q, queue.Outgoing{Group: "poison", DedupID: "poison-1", Body: []byte("poison")}, msg("healthy", 1))
	healthy := 0
	// takePoison receives until it holds the poison message, acknowledging
	// healthy ones on the way: they must keep flowing.
	takePoison := func() (queue.Message, bool) {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			var poison *queue.Message
			for _, m := range receive(t, q, 10, time.Second, time.Hour) {
				if m.Group == "poison" {
					poison = &m
					continue
				}
				healthy++
				ack(t, q, m)
			}
			if poison != nil {
				return *poison, true
			}
			d, err := q.Depth(ctx)
			if err != nil {
				t.Fatalf("depth: %v", err)
			}
			if d.Dead == 1 {
				return queue.Message{}, false
			}
		}
		t.Fatalf("the poison message neither came back nor went dead within %v", limit)
		return queue.Message{}, false
	}
	for attempt := 1; attempt <= 2; attempt++ {
		m, ok := takePoison()
		if !ok {
			t.Fatalf("dead-lettered after %d receives, want after 2", attempt-1)
		}
		if m.ReceiveCount != attempt {
			t.Errorf("receive %d has ReceiveCount %d", attempt, m.ReceiveCount)
		}
		// A failing worker gives the message back at once.
		if err := q.Extend(ctx, []string{m.Receipt}, 0); err != nil {
			t.Fatalf("release: %v", err)
		}
	}
	if m, ok := takePoison(); ok {
		t.Fatalf("received the poison message a third time (count %d) with maxReceives 2", m.ReceiveCount)
	}
	for deadline := time.Now().Add(limit); healthy == 0 && time.Now().Before(deadline); {
		for _, m := range receive(t, q, 10, time.Second, time.Hour) {
			if m.Group == "poison" {
				t.Fatalf("received the dead-lettered message (count %d)", m.ReceiveCount)
			}
			healthy++
			ack(t, q, m)
		}
	}
	if healthy != 1 {
		t.Errorf("received the healthy message %d times, want once", healthy)
	}
	waitDepth(t, q, queue.Depth{Dead: 1})

	n, err := q.Redrive(ctx)
	if err != nil || n != 1 {
		t.Fatalf("redrive = %d, %v; want 1 message moved", n, err)
	}
	waitDepth(t, q, queue.Depth{Visible: 1})
	m := receiveN(t, q, 1, 30*time.Second)[0]
	if string(m.Body) != "poison" || m.Group != "poison" || m.ReceiveCount != 1 {
		t.Fatalf("after redrive received %q group %q count %d, want the poison message afresh", m.Body, m.Group, m.ReceiveCount)
	}
	ack(t, q, m)
	waitDepth(t, q, queue.Depth{})
	if n, err := q.Redrive(ctx); err != nil || n != 0 {
		t.Fatalf("redrive of an empty dead-letter queue = %d, %v; want 0", n, err)
	}
}

func testDepth(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	send(t, q, msg("a", 1), msg("a", 2), msg("b", 1), msg("c", 1))
	waitDepth(t, q, queue.Depth{Visible: 4})
	m := receiveN(t, q, 1, time.Hour)[0]
	// The message behind a busy group's head still counts as visible.
	waitDepth(t, q, queue.Depth{Visible: 3, InFlight: 1})
	ack(t, q, m)
	waitDepth(t, q, queue.Depth{Visible: 3})
}

func testLongPoll(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	ctx := testContext(t)
	const wait = 15 * time.Second
	type result struct {
		msgs []queue.Message
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		start := time.Now()
		msgs, err := q.Receive(ctx, 10, wait, 30*time.Second)
		done <- result{msgs, err, time.Since(start)}
	}()
	<-started
	// Give the receiver a moment to start waiting; correctness does not
	// depend on it, it only makes the test exercise the wake-up.
	time.Sleep(300 * time.Millisecond)
	send(t, q, msg("p", 1))
	r := <-done
	if r.err != nil {
		t.Fatalf("receive: %v", r.err)
	}
	if len(r.msgs) != 1 {
		t.Fatalf("long poll returned %d messages after %v, want the one sent while it waited", len(r.msgs), r.took)
	}
	if r.took >= wait {
		t.Fatalf("long poll returned after %v, want well before the %v wait ended", r.took, wait)
	}
	ack(t, q, r.msgs...)
}

func testCancel(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	ctx, cancel := context.WithCancel(testContext(t))
	const wait = 20 * time.Second
	timer := time.AfterFunc(200*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	msgs, err := q.Receive(ctx, 10, wait, 30*time.Second)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("receive after cancel = %d messages, %v; want context.Canceled", len(msgs), err)
	}
	if took >= wait {
		t.Errorf("receive returned %v after cancel, want promptly", took)
	}
}

// flight tracks which consumer holds which messages and groups.
type flight struct {
	mu     sync.Mutex
	ids    map[string]int // message id -> consumer
	groups map[string]int // group -> consumer
	held   map[string]int // group -> messages held
	done   map[string]bool
}

func (f *flight) take(t *testing.T, consumer int, m queue.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.ids[m.ID]; ok {
		t.Errorf("consumer %d received message %s that consumer %d holds", consumer, m.ID, c)
	}
	if f.done[m.ID] {
		t.Errorf("consumer %d received message %s after it was acknowledged", consumer, m.ID)
	}
	if c, ok := f.groups[m.Group]; ok && c != consumer {
		t.Errorf("consumer %d received a message of group %s that consumer %d has in flight", consumer, m.Group, c)
	}
	f.ids[m.ID] = consumer
	f.groups[m.Group] = consumer
	f.held[m.Group]++
}

// release runs before the Ack, so that the next message of the group, which
// the Ack makes receivable, never looks like an overlap.
func (f *flight) release(m queue.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ids, m.ID)
	f.done[m.ID] = true
	if f.held[m.Group]--; f.held[m.Group] == 0 {
		delete(f.groups, m.Group)
	}
}

func testConcurrentConsumers(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	ctx := testContext(t)
	const groups, perGroup, consumers = 40, 3, 4
	var out []queue.Outgoing
	for s := 1; s <= perGroup; s++ {
		for g := range groups {
			out = append(out, msg(fmt.Sprintf("g%02d", g), s))
		}
	}
	send(t, q, out...)
	f := &flight{ids: map[string]int{}, groups: map[string]int{}, held: map[string]int{}, done: map[string]bool{}}
	var order orderChecker
	var acked atomic.Int64
	deadline := time.Now().Add(2 * limit)
	var wg sync.WaitGroup
	for c := range consumers {
		wg.Go(func() {
			for acked.Load() < int64(len(out)) && time.Now().Before(deadline) {
				msgs, err := q.Receive(ctx, 10, 500*time.Millisecond, time.Hour)
				if err != nil {
					t.Errorf("consumer %d: receive: %v", c, err)
					return
				}
				for _, m := range msgs {
					f.take(t, c, m)
					order.see(t, m)
				}
				for _, m := range msgs {
					f.release(m)
				}
				if err := q.Ack(ctx, receipts(msgs)); err != nil {
					t.Errorf("consumer %d: ack: %v", c, err)
					return
				}
				acked.Add(int64(len(msgs)))
			}
		})
	}
	wg.Wait()
	if n := acked.Load(); n != int64(len(out)) {
		t.Fatalf("acknowledged %d of %d messages", n, len(out))
	}
	if len(f.done) != len(out) {
		t.Fatalf("%d distinct messages acknowledged, want %d", len(f.done), len(out))
	}
	waitDepth(t, q, queue.Depth{})
}

func testStaleReceipt(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, 5)
	ctx := testContext(t)
	send(t, q, msg("p", 1))
	stale := receiveN(t, q, 1, time.Second)[0]
	fresh := receiveN(t, q, 1, time.Hour)[0]
	if fresh.ID != stale.ID {
		t.Fatalf("redelivered %s, want %s", fresh.ID, stale.ID)
	}
	// A worker that overran its timeout acknowledges late: the copy the
	// other worker holds must survive, and so must its visibility timeout.
	if err := q.Ack(ctx, []string{stale.Receipt}); err != nil {
		t.Fatalf("ack with a stale receipt: %v (want nil: there is nothing the caller can do)", err)
	}
	if err := q.Extend(ctx, []string{stale.Receipt}, 0); err != nil {
		t.Fatalf("extend with a stale receipt: %v (want nil)", err)
	}
	waitDepth(t, q, queue.Depth{InFlight: 1})
	expectNone(t, q, 0, "the redelivered copy is in flight")
	ack(t, q, fresh)
	waitDepth(t, q, queue.Depth{})
}
