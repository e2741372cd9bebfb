package app

import (
	"context"
	"testing"

	"github.com/refarch/refarch/indexstate"
)

// `refarch status` on a new index over a large catalog, before any fold
// has counted it: it waits for the count (folding itself, no serve or emu
// running) and prints exact figures.
func TestStatusWaitsForTheCountOfANewIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	tl, err := openTools(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.close()
	n := indexstate.ExhaustiveMax + 1
	if _, err := tl.pool.Exec(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, 'd', 1 FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	if err := indexstate.New(tl.pool, tl.emb.Model).Register(ctx, "pgvector"); err != nil {
		t.Fatal(err)
	}
	st, err := Status(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Products != n || st.Missing != n || st.Indexed != 0 {
		t.Fatalf("status %+v: want %d products, all missing", st, n)
	}
}
