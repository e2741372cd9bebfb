package pgqueue_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/queue/queuetest"
)

func newQueue(t *testing.T, opts pgqueue.Options) *pgqueue.Queue {
	q := pgqueue.New(pgtest.New(t), opts)
	t.Cleanup(func() { q.Close() })
	return q
}

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T, maxReceives int) queue.Queue {
		return newQueue(t, pgqueue.Options{MaxReceives: maxReceives})
	})
}

// TestNotifyWakesReceive proves that waiting receivers are woken by
// NOTIFY, not by polling: the poll interval is longer than the test's
// limit, so without a notification each Receive would wait its full minute.
func TestNotifyWakesReceive(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := newQueue(t, pgqueue.Options{PollInterval: time.Hour})
	const wait = time.Minute

	// waitFor starts a Receive, lets it block, runs act, and returns what
	// the Receive got.
	waitFor := func(t *testing.T, act func()) []queue.Message {
		t.Helper()
		type result struct {
			msgs []queue.Message
			err  error
		}
		done := make(chan result, 1)
		go func() {
			msgs, err := q.Receive(ctx, 10, wait, time.Hour)
			done <- result{msgs, err}
		}()
		time.Sleep(200 * time.Millisecond) // let it block; not an assertion
		act()
		r := <-done
		if r.err != nil {
			t.Fatalf("receive: %v", r.err)
		}
		if len(r.msgs) == 0 {
			t.Fatal("receive returned nothing")
		}
		return r.msgs
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := func(group string, seq int) queue.Outgoing {
		return queue.Outgoing{Group: group, DedupID: fmt.Sprintf("%s-%d", group, seq), Body: fmt.Appendf(nil, "%s-%d", group, seq)}
	}

	// A send wakes the receiver.
	first := waitFor(t, func() { must(q.Send(ctx, []queue.Outgoing{out("a", 1), out("a", 2)})) })
	if len(first) != 1 || string(first[0].Body) != "a-1" {
		t.Fatalf("received %d messages, first %q; want a-1 alone", len(first), first[0].Body)
	}
	// Acknowledging a group's head wakes the receiver for the next one.
	next := waitFor(t, func() { must(q.Ack(ctx, []string{first[0].Receipt})) })
	if string(next[0].Body) != "a-2" {
		t.Fatalf("after ack received %q, want a-2", next[0].Body)
	}
	// Releasing a message wakes the receiver.
	again := waitFor(t, func() { must(q.Extend(ctx, []string{next[0].Receipt}, 0)) })
	if string(again[0].Body) != "a-2" || again[0].ReceiveCount != 2 {
		t.Fatalf("after release received %q (count %d), want a-2 again", again[0].Body, again[0].ReceiveCount)
	}
	must(q.Ack(ctx, []string{again[0].Receipt}))
}

// TestConcurrentSendersDedup sends the same DedupIDs from many goroutines
// at once: each id must be enqueued exactly once.
func TestConcurrentSendersDedup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := newQueue(t, pgqueue.Options{})
	const senders, ids = 8, 200
	errs := make(chan error, senders)
	for s := range senders {
		go func() {
			msgs := make([]queue.Outgoing, ids)
			for i := range ids {
				// Each sender walks the ids in a different order.
				n := (i*7 + s*13) % ids
				msgs[i] = queue.Outgoing{Group: fmt.Sprintf("g%d", n%10), DedupID: fmt.Sprintf("d%d", n), Body: []byte("x")}
			}
			errs <- q.Send(ctx, msgs)
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	d, err := q.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Visible != ids {
		t.Fatalf("enqueued %d messages, want %d (one per DedupID)", d.Visible, ids)
	}
}

func TestReceiptsAreValidated(t *testing.T) {
	t.Parallel()
	q := newQueue(t, pgqueue.Options{})
	ctx := context.Background()
	for _, r := range []string{"", "12", "a:b", "1:x", "x:1"} {
		if err := q.Ack(ctx, []string{r}); err == nil {
			t.Errorf("Ack(%q) = nil, want an error for a malformed receipt", r)
		}
		if err := q.Extend(ctx, []string{r}, time.Second); err == nil {
			t.Errorf("Extend(%q) = nil, want an error for a malformed receipt", r)
		}
	}
}

// BenchmarkPgqueueSendReceiveAck measures the hot path: batches of 100
// messages in distinct groups sent, received by 4 consumers and acknowledged.
func BenchmarkPgqueueSendReceiveAck(b *testing.B) {
	ctx := context.Background()
	q := pgqueue.New(pgtest.New(b), pgqueue.Options{})
	defer q.Close()
	const batch, consumers = 100, 4
	n := b.N
	b.ResetTimer()
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < n; i += batch {
			msgs := make([]queue.Outgoing, 0, batch)
			for j := i; j < min(i+batch, n); j++ {
				msgs = append(msgs, queue.Outgoing{Group: fmt.Sprintf("p%d", j), DedupID: fmt.Sprintf("p%d-1", j), Body: []byte(`{"op":"update","product_id":1,"version":2}`)})
			}
			if err := q.Send(ctx, msgs); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	done := make(chan int, consumers)
	left := make(chan struct{}, n)
	for range n {
		left <- struct{}{}
	}
	for range consumers {
		go func() {
			got := 0
			for len(left) > 0 {
				msgs, err := q.Receive(ctx, batch, 100*time.Millisecond, time.Minute)
				if err != nil {
					b.Error(err)
					break
				}
				if err := q.Ack(ctx, receiptsOf(msgs)); err != nil {
					b.Error(err)
					break
				}
				for range msgs {
					<-left
				}
				got += len(msgs)
			}
			done <- got
		}()
	}
	total := 0
	for range consumers {
		total += <-done
	}
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	if total != n {
		b.Fatalf("received %d of %d", total, n)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

func receiptsOf(msgs []queue.Message) []string {
	r := make([]string, len(msgs))
	for i, m := range msgs {
		r[i] = m.Receipt
	}
	return r
}

// TestSendTx enqueues inside a caller's transaction: nothing is visible
// before commit, and a rollback enqueues nothing and leaves the DedupID
// unused.
func TestSendTx(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	q := pgqueue.New(pool, pgqueue.Options{})
	defer q.Close()
	depth := func() queue.Depth {
		t.Helper()
		d, err := q.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, commit := range []bool{false, true} {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.SendTx(ctx, tx, []queue.Outgoing{{Group: "p", DedupID: "p-1", Body: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		if d := depth(); d.Visible != 0 {
			t.Fatalf("before commit depth is %+v, want nothing visible", d)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := depth(); d.Visible != 1 {
		t.Fatalf("after a rollback and a commit depth is %+v, want 1 visible", d)
	}
}

// TestListenerReconnects kills the listening connection and checks that a
// new one takes its place and wakes receivers again.
func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	q := pgqueue.New(pool, pgqueue.Options{PollInterval: time.Hour})
	defer q.Close()
	if _, err := q.Receive(ctx, 1, time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	listener := func() int {
		var pid int
		err := pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN refarch_queue'`).Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	old := listener()
	if old == 0 {
		t.Fatal("no listening connection after a waiting Receive")
	}
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, old); err != nil {
		t.Fatal(err)
	}
	for pid := listener(); pid == 0 || pid == old; pid = listener() {
		if ctx.Err() != nil {
			t.Fatal("the listener did not reconnect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	done := make(chan []queue.Message, 1)
	go func() {
		msgs, err := q.Receive(ctx, 1, 45*time.Second, time.Minute)
		if err != nil {
			t.Error(err)
		}
		done <- msgs
	}()
	time.Sleep(200 * time.Millisecond) // let it block; not an assertion
	if err := q.Send(ctx, []queue.Outgoing{{Group: "g", DedupID: "g-1", Body: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if msgs := <-done; len(msgs) != 1 {
		t.Fatalf("after reconnecting, a waiting receive got %d messages, want the one sent", len(msgs))
	}
}

// Issue 11 (7): two sends of one group that commit out of id order (two
// pelicans, or catch-up and drain) must not put two of its messages in
// flight: the older one, committed later, waits until the one received is
// acknowledged.
func TestOneInFlightWhenSendsCommitOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	q := pgqueue.New(pool, pgqueue.Options{PollInterval: 50 * time.Millisecond})
	defer q.Close()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := q.SendTx(ctx, tx, []queue.Outgoing{{Group: "p", DedupID: "p-1", Body: []byte("older")}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []queue.Outgoing{{Group: "p", DedupID: "p-2", Body: []byte("newer")}}); err != nil {
		t.Fatal(err)
	}
	first, err := q.Receive(ctx, 10, time.Second, time.Minute)
	if err != nil || len(first) != 1 || string(first[0].Body) != "newer" {
		t.Fatalf("first receive: %v, %v; want the committed message", first, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Receive(ctx, 10, 300*time.Millisecond, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("with one message of the group in flight, a receive got %d (%v): two in flight", len(got), err)
	}
	if err := q.Ack(ctx, []string{first[0].Receipt}); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Receive(ctx, 10, time.Second, time.Minute); err != nil || len(got) != 1 || string(got[0].Body) != "older" {
		t.Fatalf("after the ack: %v, %v; want the older message", got, err)
	}
}

func TestLanesConformance(t *testing.T) {
	t.Parallel()
	queuetest.RunLanes(t, func(t *testing.T, maxReceives int) *queue.Lanes {
		q, closeQueue := pgqueue.NewLanes(pgtest.New(t), pgqueue.Options{MaxReceives: maxReceives})
		t.Cleanup(closeQueue)
		return q
	})
}

// An ack and an extend of the same messages, given in opposite orders (an
// emu's acker and its heartbeat), lock the rows in one order: neither
// fails with a deadlock.
func TestAckAndExtendInOppositeOrdersDoNotDeadlock(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	q := newQueue(t, pgqueue.Options{})
	const rounds, n = 30, 200
	for round := range rounds {
		msgs := make([]queue.Outgoing, n)
		for i := range n {
			msgs[i] = queue.Outgoing{Group: fmt.Sprintf("g%d-%d", round, i), DedupID: fmt.Sprintf("d%d-%d", round, i), Body: []byte("x")}
		}
		if err := q.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		var receipts []string
		for len(receipts) < n {
			got, err := q.Receive(ctx, n-len(receipts), time.Second, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range got {
				receipts = append(receipts, m.Receipt)
			}
		}
		reversed := slices.Clone(receipts)
		slices.Reverse(reversed)
		errs := make(chan error, 2)
		go func() { errs <- q.Extend(ctx, reversed, time.Minute) }()
		go func() { errs <- q.Ack(ctx, receipts) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
