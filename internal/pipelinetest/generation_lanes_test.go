package pipelinetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// testGenerations gives emu the live generations of the database, each with
// the embedder and store the test chose for it.
type testGenerations struct {
	e    *env
	mu   sync.Mutex
	open map[string]struct {
		emb   embedding.Embedder
		store *pgvectorstore.Store
	}
	embedders map[string]embedding.Embedder
}

func (g *testGenerations) Live(ctx context.Context) ([]generations.Generation, error) {
	return generations.Live(ctx, g.e.pool)
}

func (g *testGenerations) Open(ctx context.Context, gen generations.Generation) (emu.Embedder, emu.Store, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if o, ok := g.open[gen.Name]; ok {
		return o.emb, o.store, nil
	}
	emb, ok := g.embedders[gen.Name]
	if !ok {
		return nil, nil, fmt.Errorf("generation %s: no embedder in this test", gen.Name)
	}
	store, err := pgvectorstore.New(ctx, g.e.pool, gen.Name, gen.Dims)
	if err != nil {
		return nil, nil, err
	}
	g.open[gen.Name] = struct {
		emb   embedding.Embedder
		store *pgvectorstore.Store
	}{emb, store}
	return emb, store, nil
}

func (e *env) indexedVersion(ctx context.Context, model string, id int64) int64 {
	var v int64
	e.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM index_state WHERE model = $1 AND product_id = $2 AND NOT deleted`, model, id).Scan(&v)
	return v
}

// G10 and G11 together (issue 13): a new generation's backfill travels on
// the queue's backfill lane, so an edit made while it runs is indexed in
// every live generation (the active one and the building one) within
// moments, while most of the backfill is still to come, not after it.
func TestG10LiveEditReachesEveryGenerationDuringItsBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	const n = 500
	ids := e.insert(ctx, n, "generations")
	first := generations.Generation{Name: e.model, Embedder: "hash", Model: e.model, Dims: e.emb.Dimension(),
		Store: generations.StorePgvector, Target: pgvectorstore.TableName(e.model, e.emb.Dimension())}
	if _, err := generations.EnsureFirst(ctx, e.pool, first); err != nil {
		t.Fatal(err)
	}
	// The new generation embeds slowly (150 ms a call of 8 texts), so its
	// backfill takes some 9 s: an edit under a loaded CI's -race has 4 s to
	// overtake half of it. At 10 ms a call, one range of 500 products was
	// worked in under 2 s, and a CI run's edit came after 440 of them.
	const next = "slow-64"
	gens := &testGenerations{e: e, open: map[string]struct {
		emb   embedding.Embedder
		store *pgvectorstore.Store
	}{}, embedders: map[string]embedding.Embedder{e.model: e.emb, next: steadyEmbedder{embedding.NewHash(64), 150 * time.Millisecond}}}

	pcfg := e.pelicanConfig()
	pcfg.FollowGenerations, pcfg.GenerationsPoll = true, 200*time.Millisecond
	e.startPelican(pcfg, nil)
	ecfg := e.emuConfig()
	ecfg.BatchSize, ecfg.GenerationsPoll = 8, 200*time.Millisecond
	m := emu.New(e.pool, e.q, nil, nil, ecfg, e.log, nil).WithGenerations(gens)
	start(t, m.Run)
	e.converged(ctx, time.Minute)

	if err := generations.Create(ctx, e.pool, generations.Generation{Name: next, Embedder: "hash", Model: next, Dims: 64,
		Store: generations.StorePgvector, Target: pgvectorstore.TableName(next, 64)}); err != nil {
		t.Fatal(err)
	}
	// The backfill is queued on the backfill lane, not the live one.
	e.waitCatchupSent(ctx, next, n/2)
	if d := e.laneDepth(ctx, queue.LaneBackfill); d.Visible+d.InFlight == 0 {
		t.Fatalf("backfill lane %+v, want the new generation's backfill queued there", d)
	}
	if d := e.laneDepth(ctx, queue.LaneLive); d.Visible+d.InFlight != 0 {
		t.Fatalf("live lane %+v during the backfill, want it empty", d)
	}
	last := ids[0] // the last chunk's product, at the back of the backfill
	e.exec(ctx, `UPDATE products SET description = 'edited during the generation backfill' WHERE id = $1`, last)
	waitFor(t, 30*time.Second, func() string {
		if a, b := e.indexedVersion(ctx, e.model, last), e.indexedVersion(ctx, next, last); a != 2 || b != 2 {
			return fmt.Sprintf("edited product indexed at v%d in %s and v%d in %s, want v2 in both", a, e.model, b, next)
		}
		return ""
	})
	var built int64
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM index_state WHERE model = $1 AND NOT deleted`, next).Scan(&built); err != nil {
		t.Fatal(err)
	}
	if built > n/2 {
		t.Fatalf("the edit reached every generation only after %d of %d rows of the backfill; want it ahead of the backlog", built, n)
	}
	t.Logf("edit indexed in both generations with %d of %d rows backfilled", built, n)

	// The backfill then completes: the new generation holds every row at
	// its current version.
	waitFor(t, 2*time.Minute, func() string {
		var missing int64
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM products p WHERE NOT EXISTS (SELECT 1 FROM index_state s
			WHERE s.model = $1 AND s.product_id = p.id AND s.version = p.version AND NOT s.deleted)`, next).Scan(&missing); err != nil {
			return err.Error()
		}
		if missing > 0 {
			return fmt.Sprintf("%d rows not in %s yet", missing, next)
		}
		return ""
	})
}

// G5 across the lanes: a product with a message on each lane at once (a
// backfill's, and a live price edit's) in two batches of one worker is
// embedded once: the second batch waits for the first to write it, then
// finds only its metadata to update. Without that, both read the index
// before either wrote and both embedded it, so a price edit during a new
// generation's backfill cost an embedding.
func TestG5ProductOnBothLanesAtOnceIsEmbeddedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	gate := &gateEmbedder{Embedder: e.emb, word: "first", paused: make(chan struct{}), open: make(chan struct{})}
	emb := &countingEmbedder{Embedder: gate}
	w := emu.New(e.pool, e.q, emb, e.store, e.emuConfig(), e.log, nil)
	if err := indexstate.New(e.pool, e.model).Register(ctx, e.store.Name()); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('L-1', 'Item', 'first text', 1) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	backfill := queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceCatchup, ProductID: id, Version: 1, ChangedAt: time.Now(),
		New: &product.Product{ID: id, Version: 1}}
	body, err := queuemsg.Encode(backfill)
	if err != nil {
		t.Fatal(err)
	}
	backfillDone := make(chan struct{})
	go func() {
		defer close(backfillDone)
		w.Handle(ctx, []queue.Message{{ID: "backfill", Receipt: "none", Body: body, ReceiveCount: 1}})
	}()
	select {
	case <-gate.paused: // the backfill's batch is embedding the product
	case <-time.After(30 * time.Second):
		t.Fatal("the backfill never reached the embedder")
	}
	e.exec(ctx, `UPDATE products SET price = 2 WHERE id = $1`, id)
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		w.Handle(ctx, delivery(t, queuemsg.OpUpsert, id, 2))
	}()
	// Give the live batch time to embed, as it did before it waited.
	select {
	case <-liveDone:
	case <-time.After(3 * time.Second):
	}
	close(gate.open)
	<-backfillDone
	<-liveDone
	if n := emb.texts.Load(); n != 1 {
		t.Fatalf("embedded %d texts for one product with a message on each lane: want it embedded once", n)
	}
	st, err := indexstate.New(e.pool, e.model).Get(ctx, []int64{id})
	if err != nil || st[id].Version != 2 {
		t.Fatalf("index state %+v (%v), want version 2", st[id], err)
	}
}
