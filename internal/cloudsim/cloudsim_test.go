package cloudsim_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/cloudsim"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/queue/queuetest"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

func newPGQueue(t *testing.T, maxReceives int) *pgqueue.Queue {
	q := pgqueue.New(pgtest.New(t), pgqueue.Options{MaxReceives: maxReceives})
	t.Cleanup(func() { q.Close() })
	return q
}

// TestQueueConformance: the wrapper is still a queue with every promise of
// the contract, only slower.
func TestQueueConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T, maxReceives int) queue.Queue {
		return cloudsim.NewQueue(newPGQueue(t, maxReceives), cloudsim.SQSFIFO(true, cloudsim.Latency{P50: time.Millisecond, P99: 4 * time.Millisecond}), 1)
	})
}

func msgs(n int, group string) []queue.Outgoing {
	out := make([]queue.Outgoing, n)
	for i := range out {
		g := group
		if g == "" {
			g = "g" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		}
		out[i] = queue.Outgoing{Group: g, Body: []byte(`{"n":1}`)}
	}
	return out
}

// TestQueueQuota: calls over an action's quota are refused with a
// quota.Error naming it, nothing is sent by them, and a call after a
// backoff goes through.
func TestQueueQuota(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := cloudsim.SQSFIFO(false, cloudsim.Latency{})
	// One token every 2 s: slow sends on a loaded machine earn none back.
	p.SendMessageBatch.Quota = cloudsim.Rate{PerSecond: 0.5, Burst: 3}
	inner := newPGQueue(t, 5)
	q := cloudsim.NewQueue(inner, p, 1)
	for i := range 3 {
		if err := q.Send(ctx, msgs(1, "")); err != nil {
			t.Fatalf("send %d within the burst: %v", i, err)
		}
	}
	err := q.Send(ctx, msgs(1, ""))
	name, ok := quota.Of(err)
	if !ok || name != "sqs SendMessageBatch calls/s" {
		t.Fatalf("send over quota: got %v, want a quota error naming SendMessageBatch", err)
	}
	if d, err := inner.Depth(ctx); err != nil || d.Visible != 3 {
		t.Fatalf("depth after a throttled send = %+v, %v; want 3 visible", d, err)
	}
	time.Sleep(2100 * time.Millisecond) // one token comes back every 2 s
	if err := q.Send(ctx, msgs(1, "")); err != nil {
		t.Fatalf("send after backing off: %v", err)
	}
	// The quota counts calls: 25 messages are 3 SendMessageBatch calls.
	p.SendMessageBatch.Quota = cloudsim.Rate{PerSecond: 0.1, Burst: 3}
	q = cloudsim.NewQueue(newPGQueue(t, 5), p, 1)
	if err := q.Send(ctx, msgs(25, "")); err != nil {
		t.Fatalf("25 messages in 3 calls: %v", err)
	}
	if err := q.Send(ctx, msgs(1, "")); err == nil {
		t.Fatal("a fourth call with 3 tokens: want throttled")
	}
}

// TestQueueLimits: a message over 256 KiB is refused for good, as sqsqueue
// refuses it, and the call's other messages are sent; one of exactly 256 KiB
// goes.
func TestQueueLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := newPGQueue(t, 5)
	q := cloudsim.NewQueue(inner, cloudsim.SQSFIFO(true, cloudsim.Latency{}), 1)
	big := queue.Outgoing{Group: "big", Body: []byte(`"` + strings.Repeat("a", cloudsim.SQSMaxMessageBytes-1) + `"`)}
	err := q.Send(ctx, append(msgs(3, ""), big))
	var re *queue.RefusedError
	if !errors.As(err, &re) || len(re.Refused) != 1 || re.Refused[0].Index != 3 || !strings.Contains(err.Error(), "InvalidParameterValue") {
		t.Fatalf("oversized message: got %v, want message 3 refused with InvalidParameterValue", err)
	}
	if d, _ := inner.Depth(ctx); d.Visible != 3 {
		t.Fatalf("the call sent %d messages, want the 3 others", d.Visible)
	}
	big.Body = big.Body[:cloudsim.SQSMaxMessageBytes-1]
	big.Body = append(big.Body, '"')
	if err := q.Send(ctx, []queue.Outgoing{big}); err != nil {
		t.Fatalf("message of exactly 256 KiB: %v", err)
	}
}

// TestQueueLatency: every SQS call costs a round trip, and Send makes one
// call per 10 messages, one after the other, as sqsqueue does.
func TestQueueLatency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	lat := 30 * time.Millisecond
	q := cloudsim.NewQueue(newPGQueue(t, 5), cloudsim.SQSFIFO(true, cloudsim.Latency{P50: lat}), 1)
	start := time.Now()
	if err := q.Send(ctx, msgs(25, "")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 3*lat {
		t.Fatalf("25 messages sent in %s: want 3 calls of %s", took, lat)
	}
	start = time.Now()
	got, err := q.Receive(ctx, 25, time.Second, time.Minute)
	if err != nil || len(got) != 25 {
		t.Fatalf("receive: %d messages, %v", len(got), err)
	}
	if took := time.Since(start); took < 3*lat {
		t.Fatalf("25 messages received in %s: want 3 calls of %s", took, lat)
	}
}

// TestLatencyDistribution: the draws have the median and 99th percentile
// asked for, and a constant latency is constant.
func TestLatencyDistribution(t *testing.T) {
	t.Parallel()
	l := cloudsim.Latency{P50: 10 * time.Millisecond, P99: 40 * time.Millisecond}
	d := cloudsim.Draws(l, 20000, 7)
	slices.Sort(d)
	p50, p99 := d[len(d)/2], d[len(d)*99/100]
	if p50 < 9*time.Millisecond || p50 > 11*time.Millisecond || p99 < 34*time.Millisecond || p99 > 46*time.Millisecond {
		t.Fatalf("p50 %s, p99 %s: want about 10ms and 40ms", p50, p99)
	}
	if m := l.Mean(); m < p50 || m > p99 {
		t.Fatalf("mean %s outside [p50, p99]", m)
	}
	for _, x := range cloudsim.Draws(cloudsim.Latency{P50: 20 * time.Millisecond}, 100, 1) {
		if x != 20*time.Millisecond {
			t.Fatalf("constant latency drew %s", x)
		}
	}
}

func newStore(t *testing.T, p cloudsim.PineconeProfile) *cloudsim.Store {
	inner, err := pgvectorstore.New(t.Context(), pgtest.New(t), "sim-model", 4)
	if err != nil {
		t.Fatal(err)
	}
	return cloudsim.NewStore(inner, p, 1)
}

func vecs(n int) []vectorstore.Vector {
	out := make([]vectorstore.Vector, n)
	for i := range out {
		out[i] = vectorstore.Vector{ID: vectormeta.VectorID(int64(i + 1)), Values: []float32{1, float32(i), 0, 1},
			Meta: vectormeta.Metadata{ProductID: int64(i + 1), Version: 1, Model: "sim-model"}}
	}
	return out
}

// TestStoreQuota: an upsert over the request quota gets a 429 that callers
// see as transient and that names the quota; after a backoff it goes
// through.
func TestStoreQuota(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := cloudsim.PineconeServerless(cloudsim.Latency{})
	p.Upsert.Quota = cloudsim.Rate{PerSecond: 0.5, Burst: 2}
	s := newStore(t, p)
	for range 2 {
		if err := s.Upsert(ctx, vecs(3)); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Upsert(ctx, vecs(3))
	if !errors.Is(err, vectorstore.ErrTransient) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("upsert over quota: got %v, want a transient 429", err)
	}
	if name, _ := quota.Of(err); name != "pinecone upsert requests/s per namespace" {
		t.Fatalf("quota named %q", name)
	}
	time.Sleep(2100 * time.Millisecond)
	if err := s.Upsert(ctx, vecs(3)); err != nil {
		t.Fatalf("upsert after backing off: %v", err)
	}
}

// TestStoreLimits: requests over Pinecone's limits are refused with a
// permanent error (retrying cannot help), and nothing is written.
func TestStoreLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t, cloudsim.PineconeServerless(cloudsim.Latency{}))
	err := s.Upsert(ctx, vecs(cloudsim.PineconeMaxUpsertVectors+1))
	if err == nil || errors.Is(err, vectorstore.ErrTransient) || !strings.Contains(err.Error(), "INVALID_ARGUMENT") {
		t.Fatalf("1,001 vectors: got %v, want a permanent INVALID_ARGUMENT", err)
	}
	v := vecs(1)
	v[0].Meta.Category = strings.Repeat("c", cloudsim.PineconeMaxMetadataBytes)
	if err := s.Upsert(ctx, v); err == nil || errors.Is(err, vectorstore.ErrTransient) {
		t.Fatalf("metadata over 40 KB: got %v, want a permanent error", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Fatalf("count after refused upserts = %d, %v", n, err)
	}
	if err := s.Upsert(ctx, vecs(cloudsim.PineconeMaxUpsertVectors)); err != nil {
		t.Fatalf("1,000 vectors: %v", err)
	}
}

// TestCallsEndWithContext: a call waiting its latency returns when its
// context ends.
func TestCallsEndWithContext(t *testing.T) {
	t.Parallel()
	q := cloudsim.NewQueue(newPGQueue(t, 5), cloudsim.SQSFIFO(true, cloudsim.Latency{P50: time.Hour}), 1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := q.Send(ctx, msgs(1, "")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send: got %v, want the context's error", err)
	}
}

// TestMemQueueConformance: the in-memory stand-in keeps every promise of
// the queue contract.
func TestMemQueueConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T, maxReceives int) queue.Queue { return cloudsim.NewMemQueue(maxReceives) })
}

// BenchmarkMemQueueBacklog is one emu-sized round on the in-memory stand-in
// behind a backlog of 20,000 products with 1,000 in flight: receive 10,
// acknowledge them, send 10 more. The cloud model's batches make thousands
// of such calls, and this process's CPU time is counted in its figures,
// so a call must cost its messages, not the backlog.
func BenchmarkMemQueueBacklog(b *testing.B) {
	ctx := context.Background()
	q := cloudsim.NewMemQueue(5)
	next := 0
	send := func(n int) {
		out := make([]queue.Outgoing, n)
		for i := range out {
			out[i] = queue.Outgoing{Group: fmt.Sprint("p", next), Body: []byte(`{"n":1}`)}
			next++
		}
		if err := q.Send(ctx, out); err != nil {
			b.Fatal(err)
		}
	}
	send(21000)
	if held, err := q.Receive(ctx, 1000, 0, time.Hour); err != nil || len(held) != 1000 {
		b.Fatalf("hold 1,000 in flight: %d, %v", len(held), err)
	}
	for b.Loop() {
		got, err := q.Receive(ctx, 10, 0, time.Minute)
		if err != nil || len(got) != 10 {
			b.Fatalf("receive: %d, %v", len(got), err)
		}
		receipts := make([]string, len(got))
		for i, m := range got {
			receipts[i] = m.Receipt
		}
		if err := q.Ack(ctx, receipts); err != nil {
			b.Fatal(err)
		}
		send(10)
	}
}
