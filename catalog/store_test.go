package catalog

import (
	"context"
	"slices"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
)

// List counts exactly up to ExactCountLimit and estimates above it, pages
// by key, and Categories finds every category.
func TestListTotalsAndKeysetPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	const count = ExactCountLimit + 2000
	if _, err := Seed(ctx, pool, SeedOptions{Count: count, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE products`); err != nil {
		t.Fatal(err)
	}
	s := NewStore(pool)
	cats, err := s.Categories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	rows, err := pool.Query(ctx, `SELECT DISTINCT category FROM products WHERE category <> '' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		want = append(want, c)
	}
	if !slices.Equal(cats, want) || len(cats) < 2 {
		t.Fatalf("Categories = %v; want %v", cats, want)
	}

	page, total, err := s.List(ctx, ListOptions{Limit: 25})
	if err != nil || len(page) != 25 {
		t.Fatalf("first page: %d rows, %v", len(page), err)
	}
	if !TotalIsEstimate(total) || total < count*8/10 || total > count*12/10 {
		t.Errorf("total of %d products = %d (estimate %v); want an estimate within 20%%", count, total, TotalIsEstimate(total))
	}
	next, _, err := s.List(ctx, ListOptions{Limit: 25, After: page[len(page)-1].ID})
	if err != nil || len(next) != 25 || next[0].ID <= page[24].ID {
		t.Fatalf("keyset page after %d: %d rows, %v", page[24].ID, len(next), err)
	}
	byOffset, _, err := s.List(ctx, ListOptions{Limit: 25, Offset: 25})
	if err != nil || byOffset[0].ID != next[0].ID || byOffset[24].ID != next[24].ID {
		t.Errorf("keyset page differs from offset page: %v", err)
	}

	var exact int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM products WHERE category = $1`, cats[0]).Scan(&exact); err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.List(ctx, ListOptions{Limit: 5, Category: cats[0]}); err != nil || got != exact || TotalIsEstimate(got) {
		t.Errorf("total in category %q = %d, %v; want exactly %d", cats[0], got, err, exact)
	}
	if _, got, err := s.List(ctx, ListOptions{Limit: 5, Category: "no such category"}); err != nil || got != 0 {
		t.Errorf("total in an unknown category = %d, %v; want 0", got, err)
	}
}
