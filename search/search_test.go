package search_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// fixture is a small catalog indexed directly (no pipeline), so the search
// service is tested on its own against real Postgres and pgvector.
type fixture struct {
	svc   *search.Service
	pool  *pgxpool.Pool
	cat   *catalog.Store
	store *pgvectorstore.Store
	emb   embedding.Embedder
	ids   map[string]int64 // by SKU
}

var items = []product.Product{
	{SKU: "KB-1", Name: "Mechanical keyboard", Description: "Clicky mechanical keyboard with blue switches for typing", Price: 8900, Category: "computers"},
	{SKU: "MS-1", Name: "Wireless mouse", Description: "Ergonomic wireless mouse with a quiet click", Price: 2500, Category: "computers"},
	{SKU: "TN-1", Name: "Tennis racket", Description: "Graphite tennis racket for club players", Price: 12000, Category: "sports"},
	{SKU: "TB-1", Name: "Tennis balls", Description: "Pressurised tennis balls, can of three", Price: 600, Category: "sports"},
	{SKU: "KT-1", Name: "Kettle", Description: "Electric kettle that boils water fast", Price: 3500, Category: "kitchen"},
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	emb := embedding.NewHash(256)
	store, err := pgvectorstore.New(ctx, pool, emb.Model(), emb.Dimension())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.NewStore(pool)
	f := fixture{pool: pool, cat: cat, store: store, emb: emb, ids: map[string]int64{}}
	for _, p := range items {
		created, err := cat.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		f.ids[p.SKU] = created.ID
		f.index(t, created)
	}
	f.svc = search.New(emb, store, cat, search.NewPGFullText(pool, 0))
	return f
}

func (f fixture) index(t *testing.T, p product.Product) {
	t.Helper()
	vecs, err := f.emb.Embed(context.Background(), []string{p.EmbedText()})
	if err != nil {
		t.Fatal(err)
	}
	err = f.store.Upsert(context.Background(), []vectorstore.Vector{{
		ID: vectormeta.VectorID(p.ID), Values: vecs[0],
		Meta: vectormeta.Metadata{ProductID: p.ID, Version: p.Version, ContentHash: product.ContentHash(p.EmbedText()),
			Model: f.emb.Model(), Category: p.Category, Price: p.Price.Float()},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func mustParse(t *testing.T, raw string) search.Query {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.ParseQuery(v)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return q
}

func TestSearchKeepsVectorOrderAndScores(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, err := f.svc.Search(context.Background(), mustParse(t, "q=tennis+racket&k=5&min_score=-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 5 {
		t.Fatalf("got %d results, want 5", len(resp.Results))
	}
	if got := resp.Results[0].Product.SKU; got != "TN-1" {
		t.Errorf("first result %s, want TN-1", got)
	}
	// The store's own ranking, recomputed independently, must be kept.
	vec, _ := f.emb.Embed(context.Background(), []string{"tennis racket"})
	matches, err := f.store.Query(context.Background(), vec[0], 5, vectormeta.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range matches {
		if vectormeta.VectorID(resp.Results[i].Product.ID) != m.ID {
			t.Errorf("rank %d: got product %d, store says %s", i, resp.Results[i].Product.ID, m.ID)
		}
		if resp.Results[i].Score != float64(m.Score) {
			t.Errorf("rank %d: score %v, store says %v", i, resp.Results[i].Score, m.Score)
		}
	}
	if resp.Message != "" {
		t.Errorf("unexpected message %q", resp.Message)
	}
}

func TestSearchDropsRowsGoneFromTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// The delete has not reached the index yet: the vector is still there.
	if err := f.cat.Delete(ctx, f.ids["TN-1"]); err != nil {
		t.Fatal(err)
	}
	resp, err := f.svc.Search(ctx, mustParse(t, "q=tennis+racket&k=5&min_score=-1"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(resp.IDs(), f.ids["TN-1"]) {
		t.Fatal("deleted product shown in results")
	}
	if len(resp.Results) != 4 {
		t.Errorf("got %d results, want the 4 remaining", len(resp.Results))
	}
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		query string
		want  []string // SKUs, any order
	}{
		{"q=tennis&category=sports", []string{"TN-1", "TB-1"}},
		// min_score=-1 lifts the relevance floor: the filter alone decides.
		{"q=tennis&category=computers&min_score=-1", []string{"KB-1", "MS-1"}},
		{"q=tennis&min_price=10&max_price=100&min_score=-1", []string{"KB-1", "MS-1", "KT-1"}},
		{"q=tennis&max_price=6", []string{"TB-1"}},
		{"q=tennis&category=sports&mode=hybrid", []string{"TN-1", "TB-1"}},
	}
	for _, tt := range tests {
		resp, err := f.svc.Search(ctx, mustParse(t, tt.query))
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var got []string
		for _, r := range resp.Results {
			got = append(got, r.Product.SKU)
		}
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, want)
		}
	}
}

func TestSearchFilterUsesCurrentRow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.cat.Get(ctx, f.ids["TB-1"])
	if err != nil {
		t.Fatal(err)
	}
	p.Category = "garden"
	p.Version = 0
	if _, err := f.cat.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The index still says "sports"; the row no longer does.
	resp, err := f.svc.Search(ctx, mustParse(t, "q=tennis&category=sports"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(resp.IDs(), f.ids["TB-1"]) {
		t.Error("row whose category changed is still shown under the old category")
	}
}

func TestSearchEmptyHasMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, err := f.svc.Search(context.Background(), mustParse(t, "q=tennis&category=nothing-here"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Results == nil || len(resp.Results) != 0 {
		t.Fatalf("want an empty, non-nil list, got %#v", resp.Results)
	}
	if !strings.Contains(resp.Message, "filters") {
		t.Errorf("message %q does not help", resp.Message)
	}
}

func TestHybridRanksExactWords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, err := f.svc.Search(context.Background(), mustParse(t, "q=kettle+boils+water&mode=hybrid&k=3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].Product.SKU != "KT-1" {
		t.Fatalf("hybrid results %v, want KT-1 first", resp.IDs())
	}
	for i := 1; i < len(resp.Results); i++ {
		if resp.Results[i].Score > resp.Results[i-1].Score {
			t.Errorf("scores not descending at %d", i)
		}
	}
}

// TestHybridFullTextHasATimeout: the full-text half of a hybrid search has
// the same statement timeout as the vector search, so a full-text query held
// up (here by a lock on products, as a long migration or VACUUM FULL holds
// it) fails within its budget with ErrUnavailable (503 and Retry-After)
// instead of holding the request and its connection.
func TestHybridFullTextHasATimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	pool := f.pool
	f.svc = search.New(f.emb, f.store, f.cat, search.NewPGFullText(pool, 200*time.Millisecond))
	if _, err := f.svc.Search(ctx, search.Query{Text: "tennis", K: 3, Mode: search.ModeHybrid}); err != nil {
		t.Fatalf("hybrid search before the lock: %v", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE products IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = f.svc.Search(sctx, search.Query{Text: "tennis", K: 3, Mode: search.ModeHybrid})
	if !errors.Is(err, search.ErrUnavailable) || !strings.Contains(err.Error(), "full-text search timed out after 200ms") {
		t.Fatalf("hybrid search while products is locked: %v, want ErrUnavailable naming the full-text timeout", err)
	}
}

func TestHybridRefusedWithoutFullText(t *testing.T) {
	t.Parallel()
	svc := search.New(embedding.NewHash(8), nil, nil, nil)
	_, err := svc.Search(context.Background(), search.Query{Text: "x", K: 1, Mode: search.ModeHybrid})
	if !errors.Is(err, search.ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		wantErr string
		check   func(search.Query) bool
	}{
		{raw: "q=shoes", check: func(q search.Query) bool {
			return q.Text == "shoes" && q.K == search.DefaultK && q.Mode == search.ModeVector
		}},
		{raw: "q=+shoes+&k=100&mode=hybrid", check: func(q search.Query) bool { return q.Text == "shoes" && q.K == 100 && q.Mode == search.ModeHybrid }},
		{raw: "q=a&min_price=1.50&max_price=2", check: func(q search.Query) bool { return *q.Filter.MinPrice == 1.5 && *q.Filter.MaxPrice == 2 }},
		{raw: "q=a&category=+sports+", check: func(q search.Query) bool { return q.Filter.Category == "sports" }},
		{raw: "", wantErr: "q is required"},
		{raw: "q=+++", wantErr: "q is required"},
		{raw: "q=" + strings.Repeat("a", search.MaxQueryLen+1), wantErr: "longer than 500"},
		{raw: "q=a&k=0", wantErr: "k must be"},
		{raw: "q=a&k=101", wantErr: "k must be"},
		{raw: "q=a&k=ten", wantErr: "k must be"},
		{raw: "q=a&mode=magic", wantErr: `mode "magic"`},
		{raw: "q=a&min_price=-1", wantErr: "min_price must be"},
		{raw: "q=a&max_price=abc", wantErr: "max_price must be"},
		{raw: "q=a&min_price=5&max_price=4", wantErr: "min_price must not be greater"},
		{raw: "k=0&mode=x", wantErr: "q is required"},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.raw)
		q, err := search.ParseQuery(v)
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, search.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: got %v, want an invalid-search error containing %q", tt.raw, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.raw, err)
			continue
		}
		if !tt.check(q) {
			t.Errorf("%q: parsed to %+v", tt.raw, q)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	f.Add("q=shoes&k=5&mode=hybrid&min_price=1&max_price=2&category=x")
	f.Add("q=%ff&k=-1")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := search.ParseQuery(v)
		if err != nil {
			if !errors.Is(err, search.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if q.Text == "" || q.K < 1 || q.K > search.MaxK || (q.Mode != search.ModeVector && q.Mode != search.ModeHybrid) {
			t.Fatalf("accepted an invalid query %+v", q)
		}
		if q.Filter.MinPrice != nil && q.Filter.MaxPrice != nil && *q.Filter.MinPrice > *q.Filter.MaxPrice {
			t.Fatalf("accepted min > max: %+v", q)
		}
	})
}
