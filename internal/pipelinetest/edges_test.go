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
	"github.com/refarch/refarch/roles/emu"
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
