package synctest

import (
	"context"
	"testing"
	"time"
)

// G1: edits made while pelican is down all reach the index once it starts,
// and a change whose NOTIFY is missed is still picked up by polling.
func TestG1EditsWhilePelicanDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, nil, nil)

	ids := e.insert(ctx, 300, "garden")
	e.exec(ctx, `UPDATE products SET description = description || ' revised' WHERE id = ANY($1)`, ids[:100])
	e.exec(ctx, `DELETE FROM products WHERE id = ANY($1)`, ids[100:150])
	if s := e.status(ctx); s.Outbox == 0 || s.Indexed != 0 {
		t.Fatalf("before pelican starts: %+v, want a full outbox and nothing indexed", s)
	}
	// Without the catch-up, only the outbox can carry these changes.
	cfg := e.pelicanConfig()
	cfg.SkipCatchup = true
	e.startPelican(cfg, nil)
	e.converged(ctx, 60*time.Second)

	// A change committed with the notification suppressed: NOTIFY is only a
	// wake-up, polling must still find it.
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE products DISABLE TRIGGER products_after_write`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE products SET name = name || ' quiet' WHERE id = $1`, ids[200]); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sync_outbox (product_id, op, version, new_row)
		SELECT id, 'update', version, to_jsonb(p) FROM products p WHERE id = $1`, ids[200]); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE products ENABLE TRIGGER products_after_write`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.converged(ctx, 30*time.Second)
}
