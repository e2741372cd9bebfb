package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/sqsqueue/sqstest"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// Issue 11 (1): the vector store's table disappears while products are
// edited (an operator's mistake, a restore in progress). Every product of
// every batch fails with a permanent-looking error; that is an outage, not
// poison: nothing is dead-lettered, status names the outage, and the backlog
// is indexed once the table is back, with no restart and no redrive.
func TestStoreOutageHoldsMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	store := &countingStore{Store: e.store}
	reg := prometheus.NewRegistry()
	start(t, emu.New(e.pool, e.q, e.emb, store, e.emuConfig(), e.log, reg).Run)
	e.startPelican(e.pelicanConfig(), nil)
	ids := e.insert(ctx, 30, "garden")
	e.converged(ctx, 30*time.Second)

	table := pgx.Identifier{e.store.(*pgvectorstore.Store).Table()}.Sanitize()
	e.exec(ctx, `ALTER TABLE `+table+` RENAME TO vectors_away`)
	e.exec(ctx, `UPDATE products SET description = description || ' edited' WHERE id = ANY($1)`, ids)
	e.insert(ctx, 5, "garden")
	e.holdOutage(ctx, func() int64 { return store.failed.Load() })
	s := e.status(ctx)
	if s.Outage == nil || s.Outage.Component != indexstate.ComponentVectorStore || !strings.Contains(s.Outage.Error, "vectors_") {
		t.Fatalf("during the outage status shows outage %+v, want the vector store's", s.Outage)
	}
	if g := outageGauge(t, reg); g != 1 {
		t.Fatalf("outage gauge %v during the outage", g)
	}

	e.exec(ctx, `ALTER TABLE vectors_away RENAME TO `+table)
	e.converged(ctx, 60*time.Second)
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 || s.Outage != nil {
		t.Fatalf("after the outage: %+v, outage %+v", s, s.Outage)
	}
	if g := outageGauge(t, reg); g != 0 {
		t.Fatalf("outage gauge %v after the outage", g)
	}
}

// outageGauge reads refarch_emu_outage{component="vector_store"}.
func outageGauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "refarch_emu_outage" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "component" && l.GetValue() == indexstate.ComponentVectorStore {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// Issue 11 (1): a store that fails every call with an error no classifier
// knows (here a made-up "access denied") is down as a whole when a cheap
// probe fails too: held, not dead-lettered. A product the store refuses
// while it serves the others is still dead-lettered on its own.
func TestUnclassifiedStoreOutageHeals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	store := &brokenStore{Store: e.store}
	store.down.Store(true)
	e.startEmu(e.emuConfig(), nil, nil, store)
	e.startPelican(e.pelicanConfig(), nil)
	e.insert(ctx, 40, "tools")
	e.holdOutage(ctx, func() int64 { return store.failed.Load() })
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 || s.Outage == nil {
		t.Fatalf("during the outage: %+v, outage %+v", s, s.Outage)
	}
	store.down.Store(false)
	e.converged(ctx, 60*time.Second)

	// One product the store refuses while it serves the rest.
	bad := e.insert(ctx, 1, "REFUSED")[0]
	e.insert(ctx, 10, "tools")
	waitFor(t, 60*time.Second, func() string {
		s := e.status(ctx)
		if s.Queue.Dead == 1 && s.Failed == 1 && s.Indexed == s.Products-1 && s.Outage == nil {
			return ""
		}
		return fmt.Sprintf("%+v outage %+v", s, s.Outage)
	})
	if f, _ := indexstate.New(e.pool, e.model).Failures(ctx, 10); len(f) != 1 || f[0].ProductID != bad {
		t.Fatalf("failures %+v, want product %d", f, bad)
	}
}

// Issue 11 (2): an embedder that answers 503 to half the texts (an
// overloaded server behind a balancer) fails no product: texts that fail
// with a transient error, also alone, are retried, never poison.
func TestTransientEmbedderErrorsAreNotPoison(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	emb := &halfDownEmbedder{Embedder: e.emb}
	emb.flaky.Store(true)
	e.startEmu(e.emuConfig(), nil, emb, nil)
	e.startPelican(e.pelicanConfig(), nil)
	e.insert(ctx, 60, "kitchen")
	e.holdOutage(ctx, func() int64 { return emb.refused.Load() })
	emb.flaky.Store(false)
	e.converged(ctx, 60*time.Second)
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 {
		t.Fatalf("after: %+v", s)
	}
}

// outageSpan is how long the tests' outages last: with the tests' backoff
// (200 ms at most) and visibility, many times the receive limit.
const outageSpan = 5 * time.Second

// holdOutage lets an outage last outageSpan and at least 3*maxReceives
// failures, checking all along that nothing is dead-lettered or failed.
func (e *env) holdOutage(ctx context.Context, failures func() int64) {
	e.t.Helper()
	end := time.Now().Add(outageSpan)
	waitFor(e.t, outageSpan+30*time.Second, func() string {
		if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 {
			e.t.Fatalf("during the outage: %+v, want nothing dead or failed", s)
		}
		if n := failures(); n < 3*maxReceives || time.Now().Before(end) {
			return fmt.Sprintf("outage goes on, %d failures so far", n)
		}
		return ""
	})
}

// countingStore counts failed writes.
type countingStore struct {
	vectorstore.Store
	failed atomic.Int64
}

func (c *countingStore) count(err error) error {
	if err != nil {
		c.failed.Add(1)
	}
	return err
}

func (c *countingStore) Upsert(ctx context.Context, v []vectorstore.Vector) error {
	return c.count(c.Store.Upsert(ctx, v))
}

func (c *countingStore) UpdateMetadata(ctx context.Context, m []vectormeta.Metadata) error {
	return c.count(c.Store.UpdateMetadata(ctx, m))
}

func (c *countingStore) Delete(ctx context.Context, ids []string) error {
	return c.count(c.Store.Delete(ctx, ids))
}

// brokenStore fails every call with an unclassified error while down, and
// any upsert of a vector whose category is REFUSED.
type brokenStore struct {
	vectorstore.Store
	down   atomic.Bool
	failed atomic.Int64
}

func (b *brokenStore) check() error {
	if b.down.Load() {
		b.failed.Add(1)
		return errors.New("access denied")
	}
	return nil
}

func (b *brokenStore) Upsert(ctx context.Context, vs []vectorstore.Vector) error {
	if err := b.check(); err != nil {
		return err
	}
	for _, v := range vs {
		if v.Meta.Category == "REFUSED" {
			return fmt.Errorf("vector %s: metadata refused", v.ID)
		}
	}
	return b.Store.Upsert(ctx, vs)
}

func (b *brokenStore) UpdateMetadata(ctx context.Context, m []vectormeta.Metadata) error {
	if err := b.check(); err != nil {
		return err
	}
	return b.Store.UpdateMetadata(ctx, m)
}

func (b *brokenStore) Delete(ctx context.Context, ids []string) error {
	if err := b.check(); err != nil {
		return err
	}
	return b.Store.Delete(ctx, ids)
}

func (b *brokenStore) Count(ctx context.Context) (int, error) {
	if err := b.check(); err != nil {
		return 0, err
	}
	return b.Store.Count(ctx)
}

// halfDownEmbedder answers 503 to every other text while flaky: a batch
// always fails, and so does every second text embedded alone.
type halfDownEmbedder struct {
	embedding.Embedder
	flaky   atomic.Bool
	n       atomic.Int64
	refused atomic.Int64
}

func (h *halfDownEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if h.flaky.Load() && (len(texts) > 1 || h.n.Add(1)%2 == 0) {
		h.refused.Add(int64(len(texts)))
		return nil, fmt.Errorf("embed %d texts: server answered %d: %w", len(texts), http.StatusServiceUnavailable, embedding.ErrTransient)
	}
	return h.Embedder.Embed(ctx, texts)
}

// Issue 11 (4): TRUNCATE empties the index (and status says so), and after
// RESTART IDENTITY the new products that reuse the old ids are indexed, not
// skipped as older than the deletes the index holds.
func TestTruncateAndReusedIds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.startPelican(e.pelicanConfig(), nil)
	ids := e.insert(ctx, 40, "old")
	e.exec(ctx, `UPDATE products SET name = name || ' v2' WHERE id = ANY($1)`, ids[:20])
	e.converged(ctx, 30*time.Second)

	e.exec(ctx, `TRUNCATE products RESTART IDENTITY`)
	e.converged(ctx, 30*time.Second)
	if s := e.status(ctx); s.Products != 0 || s.DeletePending != 0 {
		t.Fatalf("after TRUNCATE: %+v", s)
	}

	again := e.insert(ctx, 50, "new")
	if again[0] > ids[len(ids)-1] && again[len(again)-1] > ids[len(ids)-1] {
		t.Fatalf("ids %d..%d were not reused", again[0], again[len(again)-1])
	}
	e.converged(ctx, 30*time.Second)
}

// Issue 11 (5): a panic while working a batch fails that batch only: the
// product that causes it is dead-lettered and shown as failed like any
// poison, the process keeps running, and other products keep flowing.
func TestWorkerPanicFailsItsBatchOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, &panickyEmbedder{Embedder: e.emb}, nil)
	e.startPelican(e.pelicanConfig(), nil)
	// Changed only after the start-up catch-up: a product changed while it
	// runs may also travel in its range (the live lane's message may be
	// sent and not yet indexed when the range is read), and a poison one
	// would then be dead-lettered once per lane.
	waitFor(t, 30*time.Second, e.startupPassDone(ctx))
	e.insert(ctx, 20, "calm")
	var bad int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('PANIC-1', 'Boom', 'PANIC here', 1) RETURNING id`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	e.insert(ctx, 20, "calm")
	waitFor(t, 60*time.Second, func() string {
		s := e.status(ctx)
		if s.Queue.Dead == 1 && s.Failed == 1 && s.Indexed == s.Products-1 && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	if st, _ := status.ProductStates(ctx, e.pool, e.model, []int64{bad}); st[bad] != status.StateFailed {
		t.Fatalf("the product that panics is %q", st[bad])
	}
}

// Issue 11 (5): a message dead-lettered by its receive count without emu
// ever recording a failure (earlier receives crashed, the last was handed
// back on shutdown) still shows as failed in status and in the product's
// badge, under both queue backends.
func TestHandBackAtLastReceiveIsVisible(t *testing.T) {
	t.Parallel()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		handBackAtLastReceive(t, e, e.q)
	})
	t.Run("sqs", func(t *testing.T) {
		endpoint := sqstest.Endpoint(t)
		t.Parallel()
		e := newEnv(t)
		handBackAtLastReceive(t, e, sqstest.New(t, endpoint, maxReceives))
	})
}

func handBackAtLastReceive(t *testing.T, e *env, q queue.Queue) {
	ctx := context.Background()
	id := e.insert(ctx, 1, "HANG")[0]
	out, err := queuemsg.Outgoing(queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceOutbox, ProductID: id, Version: 1,
		ChangedAt: time.Now(), New: &product.Product{ID: id, Version: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []queue.Outgoing{out}); err != nil {
		t.Fatal(err)
	}
	// Workers that died holding it: received, never acknowledged.
	for i := 1; i < maxReceives; i++ {
		var msgs []queue.Message
		waitFor(t, 30*time.Second, func() string {
			var err error
			if msgs, err = q.Receive(ctx, 10, time.Second, 30*time.Second); err != nil || len(msgs) == 0 {
				return fmt.Sprintf("receive %d: %d messages, %v", i, len(msgs), err)
			}
			return ""
		})
		if err := q.Extend(ctx, []string{msgs[0].Receipt}, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The last receive: emu is stopped while the embedder hangs on it.
	emb := &signalingEmbedder{Embedder: e.emb, hung: make(chan struct{}, 1)}
	cfg := e.emuConfig()
	cfg.Wait = time.Second
	r := e.startEmu(cfg, q, emb, nil)
	select {
	case <-emb.hung:
	case <-time.After(30 * time.Second):
		t.Fatal("emu never received the message")
	}
	r.stop()
	// The next receive dead-letters it.
	waitFor(t, 30*time.Second, func() string {
		msgs, err := q.Receive(ctx, 10, time.Second, 30*time.Second)
		if err != nil || len(msgs) > 0 {
			return fmt.Sprintf("receive after the last: %d messages, %v", len(msgs), err)
		}
		d, err := q.Depth(ctx)
		if err != nil || d.Dead != 1 {
			return fmt.Sprintf("depth %+v, %v", d, err)
		}
		return ""
	})
	s, err := status.Get(ctx, e.pool, q, e.model)
	if err != nil {
		t.Fatal(err)
	}
	states, _ := status.ProductStates(ctx, e.pool, e.model, []int64{id})
	if s.Failed != 1 || states[id] != status.StateFailed {
		t.Fatalf("a dead-lettered product shows failed %d, state %q; want 1 and failed", s.Failed, states[id])
	}
}

// panickyEmbedder panics on any text containing PANIC.
type panickyEmbedder struct{ embedding.Embedder }

func (p *panickyEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for _, t := range texts {
		if strings.Contains(t, "PANIC") {
			panic("embedder bug: " + t)
		}
	}
	return p.Embedder.Embed(ctx, texts)
}

// signalingEmbedder blocks on a HANG text until its context ends.
type signalingEmbedder struct {
	embedding.Embedder
	hung chan struct{}
}

func (h *signalingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for _, t := range texts {
		if strings.Contains(t, "HANG") {
			select {
			case h.hung <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	return h.Embedder.Embed(ctx, texts)
}

// Issue 11 (5): a message at its last receive is recorded as failed as soon
// as emu receives it, not only when a slot works it: a batch received ahead
// waits while its slot is busy, and a crash then would dead-letter it with
// nothing recorded.
func TestLastReceiveIsRecordedWhileTheBatchWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.insert(ctx, 2, "calm")
	e.startPelican(e.pelicanConfig(), nil)
	var last int64
	waitFor(t, 30*time.Second, func() string {
		if err := e.pool.QueryRow(ctx, `SELECT coalesce(max(group_id::bigint), 0) FROM queue_messages HAVING count(*) = 2`).Scan(&last); err != nil {
			return "waiting for both messages: " + err.Error()
		}
		return ""
	})
	// The newer message's next receive is its last; the older one is
	// received first and its write never finishes.
	e.exec(ctx, `UPDATE queue_messages SET receive_count = $1 WHERE group_id::bigint = $2`, maxReceives-1, last)
	gate := &gateStore{Store: e.store, open: make(chan struct{})} // holds every upsert
	cfg := e.emuConfig()
	cfg.Concurrency, cfg.Pipeline, cfg.BatchSize = 1, 1, 1
	e.startEmu(cfg, nil, nil, gate)
	waitFor(t, 10*time.Second, func() string {
		var n int
		e.pool.QueryRow(ctx, `SELECT count(*) FROM index_failures WHERE product_id = $1`, last).Scan(&n)
		if held := gate.held.Load(); held == 0 || n != 1 {
			return fmt.Sprintf("%d writes held, %d failures recorded for the message at its last receive", held, n)
		}
		return ""
	})
	close(gate.open)
	e.converged(ctx, 30*time.Second)
}
