package catalog_test

import (
	"context"
	"testing"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/product"
)

func TestListSortsAndFiltersByPrice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := catalog.NewStore(pgtest.New(t))
	for _, p := range []product.Product{
		{SKU: "B-1", Name: "Bravo", Description: "b", Price: 500, Category: "x"},
		{SKU: "A-1", Name: "Alpha", Description: "a", Price: 1500, Category: "x"},
		{SKU: "C-1", Name: "Charlie", Description: "c", Price: 100, Category: "y"},
	} {
		if _, err := s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	skus := func(o catalog.ListOptions) ([]string, int) {
		ps, total, err := s.List(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.SKU)
		}
		return out, total
	}
	lo, hi := 2.0, 10.0
	for _, tt := range []struct {
		o     catalog.ListOptions
		want  string
		total int
	}{
		{catalog.ListOptions{Sort: "name"}, "A-1 B-1 C-1", 3},
		{catalog.ListOptions{Sort: "-price"}, "A-1 B-1 C-1", 3},
		{catalog.ListOptions{Sort: "newest"}, "C-1 A-1 B-1", 3},
		{catalog.ListOptions{MinPrice: &lo, MaxPrice: &hi}, "B-1", 1},
		{catalog.ListOptions{MinPrice: &lo, Category: "x", Sort: "price"}, "B-1 A-1", 2},
		{catalog.ListOptions{MinPrice: &lo, Offset: 5}, "", 2},
	} {
		got, total := skus(tt.o)
		if g := join(got); g != tt.want || total != tt.total {
			t.Errorf("%+v: got %q (total %d), want %q (total %d)", tt.o, g, total, tt.want, tt.total)
		}
	}
	if _, _, err := s.List(ctx, catalog.ListOptions{Sort: "nope"}); err == nil {
		t.Error("an unknown sort was accepted")
	}
	for text, want := range map[string]string{"A-1": "A-1", "a-1": "A-1", "Z-9": ""} {
		ps, err := s.FindExact(ctx, text)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(ps) > 0 {
			got = ps[0].SKU
		}
		if got != want {
			t.Errorf("FindExact(%q) = %q, want %q", text, got, want)
		}
	}
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}
