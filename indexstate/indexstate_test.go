package indexstate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/pgtest"
)

func TestStateLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	rows, err := pool.Query(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, 'D' || g, 1 FROM generate_series(1, 5) g RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	s := indexstate.New(pool, "m")
	if err := s.Registered(ctx); !errors.Is(err, indexstate.ErrNoIndex) {
		t.Fatalf("Registered before Register: %v, want ErrNoIndex", err)
	}
	if err := s.Register(ctx, "pgvector"); err != nil {
		t.Fatal(err)
	}
	if err := s.Registered(ctx); err != nil {
		t.Fatal(err)
	}

	// Lock inserts placeholders; Write records; an older version never
	// overwrites a newer one (G3).
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		ts := indexstate.New(tx, "m")
		locked, err := ts.Lock(ctx, ids[:3])
		if err != nil {
			return err
		}
		if len(locked) != 3 || locked[ids[0]].Version != 0 {
			t.Errorf("locked %+v, want 3 placeholders", locked)
		}
		if err := ts.DropPlaceholders(ctx, ids[2:3]); err != nil {
			return err
		}
		return ts.Write(ctx, []indexstate.Record{
			{ProductID: ids[0], Version: 2, Hash: "h2", ChangedAt: time.Now()},
			{ProductID: ids[1], Version: 1, Hash: "h1", ChangedAt: time.Now()},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, []indexstate.Record{{ProductID: ids[0], Version: 1, Hash: "old", ChangedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[ids[0]] != (indexstate.State{Version: 2, Hash: "h2"}) || got[ids[1]].Hash != "h1" {
		t.Fatalf("states %+v", got)
	}
	// Two writes moved a state to a newer version; the placeholders and
	// the refused older write did not.
	if n, err := s.IndexWrites(ctx); err != nil || n != 2 {
		t.Fatalf("IndexWrites = %d, %v; want 2", n, err)
	}

	// Behind: every product whose current version (1) is not indexed,
	// except those whose change is still in the outbox (the drain sends
	// it): here all of them, until the outbox is drained.
	behind, err := s.Behind(ctx, ids[0], ids[4])
	if err != nil || len(behind) != 0 {
		t.Fatalf("behind %+v, %v; want none while their changes are in the outbox", behind, err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM sync_outbox WHERE product_id <> $1`, ids[4]); err != nil {
		t.Fatal(err)
	}
	behind, err = s.Behind(ctx, ids[0], ids[4])
	if err != nil {
		t.Fatal(err)
	}
	if len(behind) != 2 || behind[0].ProductID != ids[2] || behind[1].ProductID != ids[3] || behind[0].Version != 1 {
		t.Fatalf("behind %+v, want ids %v", behind, ids[2:4])
	}
	// A failure is listed until the product is written.
	if err := s.Fail(ctx, indexstate.Failure{ProductID: ids[3], Version: 1, Error: "boom", ReceiveCount: 5}); err != nil {
		t.Fatal(err)
	}
	if fs, err := s.Failures(ctx, 10); err != nil || len(fs) != 1 || fs[0].Error != "boom" {
		t.Fatalf("failures %+v, %v", fs, err)
	}
	if err := s.Write(ctx, []indexstate.Record{{ProductID: ids[3], Version: 1, Hash: "h", ChangedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if fs, err := s.Failures(ctx, 10); err != nil || len(fs) != 0 {
		t.Fatalf("failures after write %+v, %v", fs, err)
	}

	// A deleted product still indexed is an orphan; Reset keeps it one.
	if _, err := pool.Exec(ctx, `DELETE FROM products WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(ctx, ids[1:2]); err != nil {
		t.Fatal(err)
	}
	orphans, err := s.Orphans(ctx, 1, ids[4])
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0] != (indexstate.Orphan{ProductID: ids[1], Version: 0}) {
		t.Fatalf("orphans %+v", orphans)
	}

	page, err := s.Page(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 4 || !page[0].HasState || page[0].State.Version != 2 || page[1].Product.ID != ids[2] || page[1].HasState {
		t.Fatalf("page %+v", page)
	}
	chunks, err := s.Chunks(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Known ids: the 4 products left plus the orphan, in chunks of 2.
	if len(chunks) != 3 || chunks[0].Lo != 1 || chunks[2].Hi != ids[4] {
		t.Fatalf("chunks %+v", chunks)
	}
}

func TestOutageLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	s := indexstate.New(pool, "m")
	if o, err := s.CurrentOutage(ctx); err != nil || o != nil {
		t.Fatalf("outage with none recorded: %+v, %v", o, err)
	}
	if err := s.RecordOutage(ctx, indexstate.ComponentVectorStore, "table missing"); err != nil {
		t.Fatal(err)
	}
	first, err := s.CurrentOutage(ctx)
	if err != nil || first == nil || first.Component != indexstate.ComponentVectorStore || first.Error != "table missing" {
		t.Fatalf("outage %+v, %v", first, err)
	}
	// A later failure refreshes the error but keeps the start.
	if err := s.RecordOutage(ctx, indexstate.ComponentVectorStore, "still missing"); err != nil {
		t.Fatal(err)
	}
	o, _ := s.CurrentOutage(ctx)
	if o == nil || !o.Since.Equal(first.Since) || o.Error != "still missing" {
		t.Fatalf("refreshed outage %+v, want since %v and the new error", o, first.Since)
	}
	// Other models do not see it; an outage nobody refreshes goes stale.
	if o, _ := indexstate.New(pool, "other").CurrentOutage(ctx); o != nil {
		t.Fatalf("another model sees %+v", o)
	}
	if _, err := pool.Exec(ctx, `UPDATE index_outages SET seen_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.CurrentOutage(ctx); o != nil {
		t.Fatalf("stale outage reported: %+v", o)
	}
	if err := s.RecordOutage(ctx, indexstate.ComponentVectorStore, "again"); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.CurrentOutage(ctx); o == nil || !o.Since.After(first.Since) {
		t.Fatalf("an outage after a stale one keeps the old start: %+v", o)
	}
	if err := s.EndOutage(ctx, indexstate.ComponentVectorStore); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.CurrentOutage(ctx); o != nil {
		t.Fatalf("ended outage reported: %+v", o)
	}
}

// TestPelicanMayRecordFailures: pelican, logged in as its own role, records
// (and records again) a product whose message the queue refused.
func TestPelicanMayRecordFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AsUser(pgtest.NewURL(t), "refarch_pelican"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s := indexstate.New(conn, "m")
	for v := int64(1); v <= 2; v++ {
		if err := s.Fail(ctx, indexstate.Failure{ProductID: 7, Version: v, Error: "the queue refused the message"}); err != nil {
			t.Fatalf("as refarch_pelican: %v", err)
		}
	}
}
