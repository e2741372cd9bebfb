package pipelinetest

import (
	"context"
	"testing"
	"time"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/roles/pelican"
)

// recentVersions returns the version of each product's recent vector.
func (e *env) recentVersions(ctx context.Context) map[int64]int64 {
	e.t.Helper()
	rows, err := e.pool.Query(ctx, `SELECT product_id, version FROM recent_vectors WHERE model = $1`, e.model)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			e.t.Fatal(err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// A catch-up's writes (a bootstrap) are not kept as recent vectors, but a
// catch-up write of a product that has a recent vector replaces it, so that
// search never ranks the product by a version older than the index holds.
func TestCatchupWritesKeepRecentVectorsCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	edited := e.insert(ctx, 1, "recent")[0]
	cfg := e.pelicanConfig()
	cfg.SkipCatchup = true
	p := pelican.New(e.pool, e.q, cfg, e.log, nil)
	if _, err := p.DrainOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.converged(ctx, 30*time.Second)
	if got := e.recentVersions(ctx); got[edited] != 1 {
		t.Fatalf("recent vectors %v: want product %d at version 1 (a live insert)", got, edited)
	}

	// Changes that reach emu through a catch-up only (as after a bulk
	// load): a new product, and a new version of the one with a recent
	// vector.
	bulk := e.insert(ctx, 1, "recent")[0]
	e.exec(ctx, `UPDATE products SET description = 'changed behind the outbox' WHERE id = $1`, edited)
	e.exec(ctx, `DELETE FROM sync_outbox`)
	var out []queue.Outgoing
	for id, version := range map[int64]int64{bulk: 1, edited: 2} {
		o, err := queuemsg.Outgoing(queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceCatchup, ProductID: id,
			Version: version, ChangedAt: time.Now(), New: &product.Product{ID: id, Version: version}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	if err := e.q.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	e.converged(ctx, 30*time.Second)
	got := e.recentVersions(ctx)
	if _, ok := got[bulk]; ok {
		t.Errorf("recent vectors %v: product %d, written by a catch-up only, is recorded", got, bulk)
	}
	if got[edited] != 2 {
		t.Errorf("recent vectors %v: want product %d at version 2, the version its catch-up wrote", got, edited)
	}
}
