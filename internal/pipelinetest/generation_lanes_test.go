package pipelinetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/queue"
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
	// The new generation embeds slowly (a model ten times the cost), so its
	// backfill takes a while.
	const next = "slow-64"
	gens := &testGenerations{e: e, open: map[string]struct {
		emb   embedding.Embedder
		store *pgvectorstore.Store
	}{}, embedders: map[string]embedding.Embedder{e.model: e.emb, next: steadyEmbedder{embedding.NewHash(64), 10 * time.Millisecond}}}

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
	waitFor(t, 30*time.Second, func() string {
		if d := e.laneDepth(ctx, queue.LaneBackfill); d.Visible+d.InFlight < n/2 {
			return fmt.Sprintf("backfill lane %+v, want the new generation's backfill (%d) queued", d, n)
		}
		return ""
	})
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
	left := e.laneDepth(ctx, queue.LaneBackfill)
	if built > n/2 || left.Visible+left.InFlight < n/2 {
		t.Fatalf("the edit reached every generation only after %d of %d rows of the backfill (lane %+v); want it ahead of the backlog", built, n, left)
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
