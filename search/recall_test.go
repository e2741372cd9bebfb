package search_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/embedding/use/usetest"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/recall"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// seedIndex imports the seed CSV and indexes it (see indexCatalog).
func seedIndex(t testing.TB, emb embedding.Embedder) (*pgxpool.Pool, *catalog.Store, *pgvectorstore.Store) {
	t.Helper()
	path := recall.SeedCSV()
	if path == "" {
		t.Skip("seed-products.csv not found (set REFARCH_SEED_CSV)")
	}
	return indexCatalog(t, emb, func(ctx context.Context, pool *pgxpool.Pool) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = catalog.ImportCSV(ctx, pool, f, catalog.ImportOptions{})
		return err
	}, recall.CacheDir())
}

// indexCatalog loads a catalog and indexes it as a finished bootstrap
// leaves it (HNSW built after the load, index_state current, outbox
// drained), from vectors embedded once and cached in cacheDir ("" for none).
func indexCatalog(t testing.TB, emb embedding.Embedder, load func(context.Context, *pgxpool.Pool) error, cacheDir string) (*pgxpool.Pool, *catalog.Store, *pgvectorstore.Store) {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	if err := load(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var ps []product.Product
	rows, err := pool.Query(ctx, `SELECT `+catalog.Columns+` FROM products ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		p, err := catalog.Scan(rows)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	items := make([]recall.Item, len(ps))
	for i, p := range ps {
		items[i] = recall.Item{Name: p.Name, Description: p.Description}
	}
	vecs, err := recall.Embed(ctx, emb, items, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := pgvectorstore.New(ctx, pool, emb.Model(), emb.Dimension())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DropIndex(ctx); err != nil {
		t.Fatal(err)
	}
	vs := make([]vectorstore.Vector, len(ps))
	pids, vers, hashes := make([]int64, len(ps)), make([]int64, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		h := product.ContentHash(p.EmbedText())
		vs[i] = vectorstore.Vector{ID: vectormeta.VectorID(p.ID), Values: vecs[i], Meta: vectormeta.Metadata{
			ProductID: p.ID, Version: p.Version, ContentHash: h, Model: emb.Model(), Category: p.Category, Price: p.Price.Float()}}
		pids[i], vers[i], hashes[i] = p.ID, p.Version, h
	}
	for chunk := range slices.Chunk(vs, 1000) {
		if err := store.Upsert(ctx, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.CreateIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO index_state (model, product_id, version, content_hash, changed_at)
		SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[]), now()`, emb.Model(), pids, vers, hashes); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM sync_outbox; ANALYZE`); err != nil {
		t.Fatal(err)
	}
	return pool, catalog.NewStore(pool), store
}

// The loop, as a user does it, on the seed CSV (look-alike
// descriptions) with the default model and pgvector: edit one product to a
// text unlike any other, wait until status says it is indexed, search by
// its text, revert. Each edited product must come first, as an exact scan
// of the same vectors puts it. make test runs the first
// REFARCH_RECALL_EDITS (default 6) edits; the recall benchmark runs all 30.
func TestSearchFindsIsolatedEditsFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emb, err := embedding.Open(ctx, embedding.Options{Name: "use", ModelDir: usetest.ModelDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	pool, cat, store := seedIndex(t, emb)
	runPipeline(t, pool, emb, store)
	svc := search.New(emb, store, cat, nil).WithRecent(recentvectors.NewScanner(pool, emb.Model(), recentvectors.Options{}))

	n := 6
	if v, err := strconv.Atoi(os.Getenv("REFARCH_RECALL_EDITS")); err == nil && v > 0 {
		n = min(v, len(recall.IsolatedEdits))
	}
	var count int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM products`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	for i, e := range recall.IsolatedEdits[:n] {
		id := 1 + int64(i)*count/int64(n)
		old, err := cat.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		edited := old
		edited.Name, edited.Description = e.Name, e.Description
		if edited, err = cat.Update(ctx, edited); err != nil {
			t.Fatal(err)
		}
		waitIndexed(t, pool, emb.Model(), id)
		start := time.Now()
		resp, err := svc.Search(ctx, search.Query{Text: e.Description, K: search.DefaultK, Mode: search.ModeVector})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		exact := exactTop(t, pool, store, emb, e.Description)
		if exact != id {
			t.Errorf("edit %d (%s): an exact scan puts product %d first, not the edited %d", i, e.Name, exact, id)
		}
		if len(resp.Results) == 0 || resp.Results[0].Product.ID != id {
			t.Errorf("edit %d (%s): search returned %v, want product %d first", i, e.Name, resp.IDs(), id)
		} else {
			t.Logf("edit %d (%s): first with score %.3f in %v", i, e.Name, resp.Results[0].Score, took.Round(time.Microsecond))
		}
		old.Version = edited.Version
		if _, err := cat.Update(ctx, old); err != nil {
			t.Fatal(err)
		}
		waitIndexed(t, pool, emb.Model(), id)
	}
}

// exactTop is the product an exact scan of the store's table ranks first
// for text: the distance expression is changed so the HNSW index cannot
// serve the ORDER BY.
func exactTop(t testing.TB, pool *pgxpool.Pool, store *pgvectorstore.Store, emb embedding.Embedder, text string) int64 {
	t.Helper()
	v, err := emb.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	err = pool.QueryRow(context.Background(), `SELECT product_id FROM `+store.Table()+`
		ORDER BY (embedding <=> $1::float4[]::vector) + 0, product_id LIMIT 1`, v[0]).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
