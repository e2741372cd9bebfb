package pipelinetest

import (
	"context"
	"testing"
	"time"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/reconcile"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// Reconcile finds a vector lost from the store, a vector with stale
// metadata and an orphan, and --repair gets the index back to the table.
func TestReconcileFindsAndRepairsDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.startPelican(e.pelicanConfig(), nil)
	ids := e.insert(ctx, 60, "drift")
	e.converged(ctx, 30*time.Second)

	lost, stale := ids[3], ids[4]
	if err := e.store.Delete(ctx, []string{vectormeta.VectorID(lost)}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.UpdateMetadata(ctx, []vectormeta.Metadata{{ProductID: stale, Version: 1, ContentHash: "old", Model: e.model}}); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, e.emb.Dimension())
	v[0] = 1
	if err := e.store.Upsert(ctx, []vectorstore.Vector{{ID: "987654", Values: v, Meta: vectormeta.Metadata{ProductID: 987654, Version: 1, Model: e.model}}}); err != nil {
		t.Fatal(err)
	}

	r, err := reconcile.Run(ctx, indexstate.New(e.pool, e.model), e.store, e.q, false, 25, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Products != 60 || r.InSync != 58 || r.VectorMissing != 1 || r.VectorStale != 1 || r.OrphanVectorsUnknown != 1 || r.Enqueued != 0 || r.Clean() {
		t.Fatalf("report %+v", r)
	}
	// The drift is older than the recent-writes window.
	e.exec(ctx, `DELETE FROM recent_vectors`)
	r, err = reconcile.Run(ctx, indexstate.New(e.pool, e.model), e.store, e.q, true, 25, nil)
	if err != nil || r.Enqueued != 2 {
		t.Fatalf("repair: %+v, %v; want 2 enqueued", r, err)
	}
	// Vectors of ids neither the table nor index_state knows can only be
	// counted through the Store interface, not listed: drop it by hand.
	if err := e.store.Delete(ctx, []string{"987654"}); err != nil {
		t.Fatal(err)
	}
	e.converged(ctx, 30*time.Second) // diff checks both vectors are right again
	// The repaired vectors are searchable as fresh writes: recorded in
	// recent_vectors at the products' current versions.
	var fresh int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM recent_vectors r JOIN products p ON p.id = r.product_id
		WHERE r.model = $1 AND r.version = p.version AND r.product_id = ANY($2)`, e.model, []int64{lost, stale}).Scan(&fresh); err != nil {
		t.Fatal(err)
	}
	if fresh != 2 {
		t.Fatalf("%d of the 2 repaired products are in recent_vectors at their current version", fresh)
	}
	r, err = reconcile.Run(ctx, indexstate.New(e.pool, e.model), e.store, e.q, false, 25, nil)
	if err != nil || !r.Clean() {
		t.Fatalf("after repair: %+v, %v", r, err)
	}
}
