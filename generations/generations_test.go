package generations_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
)

func gen(name string, dims int) generations.Generation {
	return generations.Generation{Name: name, Embedder: "hash", Model: name, Dims: dims, Store: generations.StorePgvector, Target: "vectors_" + name}
}

// The first generation is created once, by whichever role starts first;
// exactly one generation is ever active; promotion swaps atomically,
// refuses an incomplete generation unless forced, and drop refuses the
// active one and stops writers.
func TestGenerationLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)

	var wg sync.WaitGroup
	names := make([]string, 8)
	for i := range names {
		wg.Go(func() {
			g, err := generations.EnsureFirst(ctx, pool, gen("first-"+string(rune('a'+i)), 64))
			if err != nil {
				t.Error(err)
			}
			names[i] = g.Name
		})
	}
	wg.Wait()
	for _, n := range names {
		if n != names[0] {
			t.Fatalf("roles starting together saw different first generations: %v", names)
		}
	}
	if all, _ := generations.List(ctx, pool); len(all) != 1 || all[0].State != generations.Active || all[0].PromotedAt == nil {
		t.Fatalf("after concurrent starts: %+v, want one active generation", all)
	}
	first := names[0]
	if _, err := pool.Exec(ctx, `INSERT INTO index_generations (name, embedder, model, dims, store, target, state)
		VALUES ('rogue', 'hash', 'x', 2, 'pgvector', 't', 'active')`); err == nil {
		t.Fatal("a second active generation was accepted")
	}

	next, err := generations.FreeName(ctx, pool, first)
	if err != nil || next == first {
		t.Fatalf("free name for a taken model id: %q, %v", next, err)
	}
	if err := generations.Create(ctx, pool, gen(next, 128)); err != nil {
		t.Fatal(err)
	}
	missing := int64(42)
	count := func(context.Context, pgx.Tx) (int64, error) { return missing, nil }
	var inc generations.IncompleteError
	if _, err := generations.Promote(ctx, pool, next, false, count); !errors.As(err, &inc) || inc.Missing != 42 {
		t.Fatalf("promote an incomplete generation: %v, want IncompleteError with 42 missing", err)
	}
	if g, _ := generations.GetActive(ctx, pool); g.Name != first {
		t.Fatalf("a refused promotion changed the active generation to %s", g.Name)
	}
	if g, err := generations.Promote(ctx, pool, next, true, count); err != nil || g.State != generations.Active {
		t.Fatalf("forced promote: %+v, %v", g, err)
	}
	if old, _ := generations.Get(ctx, pool, first); old.State != generations.Retired || old.RetiredAt == nil {
		t.Fatalf("the previous active generation: %+v, want retired", old)
	}
	missing = 0
	if g, err := generations.Promote(ctx, pool, first, false, count); err != nil || g.Name != first {
		t.Fatalf("promote back: %+v, %v", g, err)
	}

	if _, err := generations.MarkDropping(ctx, pool, first); !errors.Is(err, generations.ErrActive) {
		t.Fatalf("drop the active generation: %v, want ErrActive", err)
	}
	// A writer holding the generation delays the drop until it commits;
	// writers after it see the drop.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if live, err := generations.WriteGuard(ctx, tx, next); err != nil || !live {
		t.Fatalf("write guard of a retired generation: %v, %v", live, err)
	}
	dropped := make(chan error, 1)
	go func() { _, err := generations.MarkDropping(ctx, pool, next); dropped <- err }()
	testkit.WaitFor(t, 10*time.Second, func() string {
		select {
		case err := <-dropped:
			t.Fatalf("the drop did not wait for the writer: %v", err)
		default:
		}
		var waiting int
		pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if waiting == 0 {
			return "the drop is not waiting for the writer's lock"
		}
		return ""
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-dropped; err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		live, err := generations.WriteGuard(ctx, tx, next)
		if live {
			t.Error("a writer after the drop began may still write")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if live, _ := generations.Live(ctx, pool); len(live) != 1 || live[0].Name != first {
		t.Fatalf("live generations while one is dropping: %+v", live)
	}
	if err := generations.Forget(ctx, pool, next); err != nil {
		t.Fatal(err)
	}
	if _, err := generations.Get(ctx, pool, next); err == nil {
		t.Fatal("a dropped generation is still listed")
	}
}

// PromoteComplete refuses a generation whose index no emu has opened, even
// forced (searches could not read it), and one that lacks rows unless
// forced; auto_promote is kept with a building generation only.
func TestPromoteCompleteNeedsAnIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if _, err := generations.EnsureFirst(ctx, pool, gen("first", 64)); err != nil {
		t.Fatal(err)
	}
	next := gen("next", 32)
	next.AutoPromote = true
	if err := generations.Create(ctx, pool, next); err != nil {
		t.Fatal(err)
	}
	if g, _ := generations.Get(ctx, pool, "next"); !g.AutoPromote {
		t.Fatal("auto_promote was not kept")
	}
	if g, _ := generations.Get(ctx, pool, "first"); g.AutoPromote {
		t.Fatal("the first generation has auto_promote")
	}
	if _, err := generations.PromoteComplete(ctx, pool, "next", true); !errors.Is(err, indexstate.ErrNoIndex) {
		t.Fatalf("forced promotion of a generation without an index: %v, want ErrNoIndex", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('P1', 'p', 'd', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO index_state (model, product_id, version, content_hash, changed_at)
		SELECT 'first', id, version, 'h', now() FROM products`); err != nil {
		t.Fatal(err)
	}
	// The row was last changed before the generation was created.
	if _, err := pool.Exec(ctx, `UPDATE index_generations SET created_at = now() + interval '1 hour' WHERE name = 'next'`); err != nil {
		t.Fatal(err)
	}
	var inc generations.IncompleteError
	if _, err := generations.PromoteComplete(ctx, pool, "next", false); !errors.As(err, &inc) || inc.Missing != 1 {
		t.Fatalf("promotion of a generation lacking a row: %v, want IncompleteError with 1 missing", err)
	}
	if err := indexstate.New(pool, "next").Register(ctx, "pgvector:vectors_next"); err != nil {
		t.Fatal(err)
	}
	if g, err := generations.PromoteComplete(ctx, pool, "next", true); err != nil || g.State != generations.Active {
		t.Fatalf("forced promotion of a registered generation: %+v, %v", g, err)
	}
}
