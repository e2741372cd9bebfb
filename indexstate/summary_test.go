package indexstate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/pgtest"
)

// sameSnapshot returns the counted and the exhaustive summary of model read
// in one REPEATABLE READ transaction, so they describe the same state even
// while other transactions write.
func sameSnapshot(ctx context.Context, t *testing.T, pool *pgxpool.Pool, model string) (counted, exhaustive indexstate.Summary) {
	t.Helper()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// TRUNCATE is not MVCC-safe: a snapshot taken before one sees the
	// table empty once it commits. Hold it off (the lock comes before the
	// snapshot, which the first query takes).
	if _, err := tx.Exec(ctx, `LOCK TABLE products, sync_outbox, index_state, index_failures IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	s := indexstate.New(tx, model)
	if counted, err = s.Summarize(ctx); err != nil {
		t.Fatal(err)
	}
	if exhaustive, err = s.SummarizeExhaustive(ctx); err != nil {
		t.Fatal(err)
	}
	return counted, exhaustive
}

func checkSame(t *testing.T, when string, counted, exhaustive indexstate.Summary) {
	t.Helper()
	// The ages are taken at the same now() from the same rows, except that
	// the outbox's oldest row is read by id, not by time.
	if d := counted.OldestUnindexedAgeSeconds - exhaustive.OldestUnindexedAgeSeconds; d < -0.5 || d > 0.5 {
		t.Errorf("%s: oldest unindexed age %.3fs counted, %.3fs exhaustive", when, counted.OldestUnindexedAgeSeconds, exhaustive.OldestUnindexedAgeSeconds)
	}
	counted.OldestUnindexedAgeSeconds, exhaustive.OldestUnindexedAgeSeconds = 0, 0
	if counted != exhaustive {
		t.Fatalf("%s: counted status differs from a full recount\n counted    %+v\n exhaustive %+v", when, counted, exhaustive)
	}
}

// The counts Summarize reads equal a full recount at every moment of a
// random concurrent workload: inserts, updates (and updates that change
// nothing), deletes, TRUNCATE ... RESTART IDENTITY (so ids come back),
// emu-like lock-and-write transactions that race the edits, resets,
// placeholders, failures recorded and cleared, state rows deleted by hand,
// and folds running all the while; for two models, one of which appears
// only midway.
func TestCountsEqualFullRecountUnderConcurrentChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if err := indexstate.New(pool, "m1").Register(ctx, "pgvector"); err != nil {
		t.Fatal(err)
	}
	const maxID = 40
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		ops, bad atomic.Int64
		skuSeq   atomic.Int64
	)
	defer func() { stop.Store(true); wg.Wait() }() // also when a check fails
	try := func(f func() error) {
		if err := f(); err != nil {
			bad.Add(1) // deadlocks, unique violations and the like: rolled back, fine
		}
		ops.Add(1)
	}
	// Editors: the catalog's writes.
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				id := rng.Int64N(maxID) + 1
				switch r := rng.IntN(100); {
				case r < 30:
					try(func() error {
						_, err := pool.Exec(ctx, `INSERT INTO products (sku, name, description, price) VALUES ($1, 'n', 'd', 1)`,
							fmt.Sprintf("S%d", skuSeq.Add(1)))
						return err
					})
				case r < 35: // an id used again, as after a sequence reset
					try(func() error {
						_, err := pool.Exec(ctx, `INSERT INTO products (id, sku, name, description, price) OVERRIDING SYSTEM VALUE
							VALUES ($1, $2, 'n', 'd', 1)`, id, fmt.Sprintf("S%d", skuSeq.Add(1)))
						return err
					})
				case r < 60:
					try(func() error {
						_, err := pool.Exec(ctx, `UPDATE products SET name = name || 'x' WHERE id = $1`, id)
						return err
					})
				case r < 65:
					try(func() error {
						_, err := pool.Exec(ctx, `UPDATE products SET name = name WHERE id <= $1`, id)
						return err
					})
				case r < 80:
					try(func() error {
						_, err := pool.Exec(ctx, `DELETE FROM products WHERE id = $1`, id)
						return err
					})
				case r < 83: // a bulk edit and a delete in one transaction
					try(func() error {
						return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
							if _, err := tx.Exec(ctx, `UPDATE products SET price = price + 1 WHERE id % 3 = $1`, id%3); err != nil {
								return err
							}
							_, err := tx.Exec(ctx, `DELETE FROM products WHERE id = $1`, id)
							return err
						})
					})
				case r < 84:
					try(func() error {
						_, err := pool.Exec(ctx, `TRUNCATE products RESTART IDENTITY`)
						return err
					})
				default:
					try(func() error {
						_, err := pool.Exec(ctx, `DELETE FROM sync_outbox WHERE id IN (SELECT id FROM sync_outbox ORDER BY id LIMIT 5)`)
						return err
					})
				}
			}
		})
	}
	// Emus: lock, read the rows, write what the index now holds.
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for !stop.Load() {
				model := "m1"
				if rng.IntN(3) == 0 && ops.Load() > 300 {
					model = "m2" // a model the counts meet midway
				}
				ids := []int64{rng.Int64N(maxID) + 1, rng.Int64N(maxID) + 1, rng.Int64N(maxID) + 1}
				switch r := rng.IntN(100); {
				case r < 70:
					try(func() error { return emuWrite(ctx, pool, model, ids, rng.IntN(5) == 0) })
				case r < 75:
					try(func() error { return indexstate.New(pool, model).Reset(ctx, ids[:1]) })
				case r < 80:
					try(func() error {
						return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
							s := indexstate.New(tx, model)
							if _, err := s.Lock(ctx, ids); err != nil {
								return err
							}
							return s.DropPlaceholders(ctx, ids)
						})
					})
				case r < 90:
					try(func() error {
						return indexstate.New(pool, model).Fail(ctx, indexstate.Failure{ProductID: ids[0], Version: 1, Error: "boom", ReceiveCount: 5})
					})
				case r < 95:
					try(func() error { return indexstate.New(pool, model).ClearFailures(ctx, ids[:1]) })
				default:
					try(func() error {
						_, err := pool.Exec(ctx, `DELETE FROM index_state WHERE model = $1 AND product_id = $2`, model, ids[0])
						return err
					})
				}
			}
		})
	}
	// A folder, as serve and emu run one, but much more often.
	wg.Go(func() {
		for !stop.Load() {
			if _, err := indexstate.Fold(ctx, pool, 7); err != nil {
				t.Errorf("fold: %v", err)
				return
			}
		}
	})

	deadline := time.Now().Add(4 * time.Second)
	checks := 0
	for time.Now().Before(deadline) && !t.Failed() {
		for _, m := range []string{"m1", "m2"} {
			c, e := sameSnapshot(ctx, t, pool, m)
			checkSame(t, fmt.Sprintf("during the workload, model %s, check %d", m, checks), c, e)
		}
		checks++
	}
	stop.Store(true)
	wg.Wait()
	if ops.Load() < 200 || bad.Load() > ops.Load()/2 {
		t.Fatalf("workload too small to mean much: %d operations, %d failed", ops.Load(), bad.Load())
	}
	for _, m := range []string{"m1", "m2"} {
		c, e := sameSnapshot(ctx, t, pool, m)
		checkSame(t, "after the workload, model "+m, c, e)
	}
	// Folded to the end, the log is empty and the counts still agree.
	if err := indexstate.FoldAll(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var logged int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM status_changes`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged != 0 {
		t.Fatalf("%d changes left after folding to the end", logged)
	}
	for _, m := range []string{"m1", "m2"} {
		c, e := sameSnapshot(ctx, t, pool, m)
		checkSame(t, "folded, model "+m, c, e)
		if c.Products == 0 && c.DeletePending == 0 {
			t.Logf("model %s: empty catalog at the end", m)
		}
	}
	t.Logf("%d operations (%d rolled back), %d checks", ops.Load(), bad.Load(), checks)
}

// emuWrite does what emu does for ids: lock their state, read the rows and
// record the current version (a delete for a row gone). With stale set it
// records one version less, as a slow worker would try to.
func emuWrite(ctx context.Context, pool *pgxpool.Pool, model string, ids []int64, stale bool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		s := indexstate.New(tx, model)
		if _, err := s.Lock(ctx, ids); err != nil {
			return err
		}
		var recs []indexstate.Record
		for _, id := range ids {
			var v int64
			deleted := false
			err := tx.QueryRow(ctx, `SELECT version FROM products WHERE id = $1`, id).Scan(&v)
			if errors.Is(err, pgx.ErrNoRows) {
				deleted = true
				if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT version FROM product_tombstones WHERE id = $1), 0)`, id).Scan(&v); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			if stale {
				v--
			}
			if v > 0 {
				recs = append(recs, indexstate.Record{ProductID: id, Version: v, Hash: "h", Deleted: deleted, ChangedAt: time.Now()})
			}
		}
		return s.Write(ctx, recs)
	})
}

// Reading the status touches a few pages whatever the catalog's size: it
// reads no row of products or index_state beyond the changes not yet
// folded.
func TestSummarizeReadsNoCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if err := indexstate.New(pool, "m").Register(ctx, "pgvector"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, repeat('a description of some length ', 4), 1 FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO index_state (model, product_id, version, content_hash, changed_at)
		SELECT 'm', id, 1, 'h', now() FROM products WHERE id % 10 <> 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM sync_outbox`); err != nil {
		t.Fatal(err)
	}
	if err := indexstate.FoldAll(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// A few changes since the fold, which the read recomputes.
	if _, err := pool.Exec(ctx, `UPDATE products SET name = 'changed' WHERE id IN (5, 7, 10)`); err != nil {
		t.Fatal(err)
	}
	// As autovacuum does: the folded changes and the sent outbox rows are
	// dead rows, not catalog.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	checkReadsNoCatalog(ctx, t, pool, "after a vacuum")
	c, e := sameSnapshot(ctx, t, pool, "m")
	checkSame(t, "after the fold", c, e)
	if c.Products != 20000 || c.Indexed != 17998 || c.Stale != 2 || c.Missing != 2000 {
		t.Fatalf("status %+v: want 20000 products, 17998 indexed, 2 stale, 2000 missing", c)
	}

	// As in a bootstrap: the statistics were taken while the log held a
	// burst of changes (here every product) that a fold has deleted since,
	// so the planner expects the whole catalog's worth of changes where a
	// few are left. Reads and folds must still probe by key.
	if _, err := pool.Exec(ctx, `UPDATE products SET name = name || '.'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE status_changes`); err != nil {
		t.Fatal(err)
	}
	if err := indexstate.FoldAll(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE products SET name = 'changed again' WHERE id IN (5, 7, 10)`); err != nil {
		t.Fatal(err)
	}
	checkReadsNoCatalog(ctx, t, pool, "with the statistics of a burst")
	c, e = sameSnapshot(ctx, t, pool, "m")
	checkSame(t, "after the burst", c, e)
	if c.Products != 20000 || c.Indexed != 0 || c.Stale != 18000 || c.Missing != 2000 {
		t.Fatalf("status %+v: want 20000 products, 0 indexed, 18000 stale, 2000 missing", c)
	}
}

// checkReadsNoCatalog fails t when Summarize's statement or a fold of the
// changes logged reads products, index_state, index_failures or
// status_pending other than by key.
func checkReadsNoCatalog(ctx context.Context, t *testing.T, pool *pgxpool.Pool, when string) {
	t.Helper()
	var pages int64
	if err := pool.QueryRow(ctx, `SELECT pg_relation_size('products') / current_setting('block_size')::int`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		name, sql string
		arg       any
	}{
		{"fold", indexstate.FoldSQL, indexstate.FoldBatch},
		{"status", indexstate.SummarySQL, "m"},
	} {
		raw := explain(ctx, t, pool, st.sql, st.arg)
		var plan []struct {
			Plan planNode `json:"Plan"`
		}
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		// The log of changes (status_changes) may keep the pages of an old
		// burst, empty; the catalog and the index state are read by key only.
		failed := false
		var walk func(n planNode)
		walk = func(n planNode) {
			switch n.Relation {
			case "products", "index_state", "index_failures", "status_pending":
				if n.Hit+n.Read > 40 || (n.Type == "Seq Scan" && n.Relation != "index_failures") {
					t.Errorf("%s: %s reads %s with a %s of %v blocks; products has %d pages", when, st.name, n.Relation, n.Type, n.Hit+n.Read, pages)
					failed = true
				}
			}
			for _, c := range n.Plans {
				walk(c)
			}
		}
		walk(plan[0].Plan)
		if failed {
			t.Logf("%s: %s plan: %s", when, st.name, raw)
		}
	}
}

// explain runs EXPLAIN ANALYZE of sql in a transaction it rolls back (a
// fold's changes stay), and returns the plan as JSON.
func explain(ctx context.Context, t *testing.T, pool *pgxpool.Pool, sql string, arg any) []byte {
	t.Helper()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var raw []byte
	if err := tx.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+sql, arg).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

type planNode struct {
	Type     string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Hit      float64    `json:"Shared Hit Blocks"`
	Read     float64    `json:"Shared Read Blocks"`
	Plans    []planNode `json:"Plans"`
}

// A new index over a large catalog: until a fold has counted it, status
// says it is counting, at once, instead of scanning the catalog at every
// read; after the fold the counts are exact.
func TestSummarizeSaysCountingForALargeNewIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if _, err := pool.Exec(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, 'd', 1 FROM generate_series(1, $1) g`, indexstate.ExhaustiveMax+1); err != nil {
		t.Fatal(err)
	}
	s := indexstate.New(pool, "m")
	// Not registered: no fold would count it, so status counts it itself.
	if sum, err := s.Summarize(ctx); err != nil || sum.Missing != indexstate.ExhaustiveMax+1 {
		t.Fatalf("Summarize before Register = %+v, %v; want every product missing", sum, err)
	}
	if err := s.Register(ctx, "pgvector"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Summarize(ctx); !errors.Is(err, indexstate.ErrCounting) {
		t.Fatalf("Summarize after Register, before a fold: %v, want ErrCounting", err)
	}
	if _, err := indexstate.Fold(ctx, pool, 0); err != nil {
		t.Fatal(err)
	}
	c, e := sameSnapshot(ctx, t, pool, "m")
	checkSame(t, "after the fold", c, e)
	if c.Missing != indexstate.ExhaustiveMax+1 {
		t.Fatalf("status %+v: want every product missing", c)
	}
}
