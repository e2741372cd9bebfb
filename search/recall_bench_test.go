package search_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/embedding/use/usetest"
	"github.com/refarch/refarch/internal/recall"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// BenchmarkSearchRecall measures how often the search path finds what an
// exact scan finds, and what it costs, for each hnsw.ef_search setting:
// recall@1 and recall@10 for (a) 200 random queries, (b) "needle" queries,
// the texts of the 200 most recently edited products, and (c) the issue's
// 30 isolated edits (each edited, searched, reverted). "ann" is the vector
// store alone, "search" adds the exact scan of recent writes. Catalogs:
// the seed CSV and the generated catalog with the use model; with
// REFARCH_BENCH_PRODUCTS=N also N generated products with the hash
// embedder (1,000,000 for the figure: a long run).
// REFARCH_BENCH_EF overrides the settings (comma-separated; 0 is the
// default sizing); REFARCH_BENCH_HNSW lists graphs to rebuild and compare
// as m/ef_construction pairs (default 16/128, as the store builds it).
// Latencies are of the search path with the query vector cached.
func BenchmarkSearchRecall(b *testing.B) {
	efs := []int{0, 40, 100, 200, 400}
	if v := os.Getenv("REFARCH_BENCH_EF"); v != "" {
		efs = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				b.Fatalf("REFARCH_BENCH_EF: %q is not an ef_search", f)
			}
			efs = append(efs, n)
		}
	}
	graphs := []hnswGraph{{16, 128}}
	if v := os.Getenv("REFARCH_BENCH_HNSW"); v != "" {
		graphs = nil
		for f := range strings.SplitSeq(v, ",") {
			var g hnswGraph
			if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d/%d", &g.m, &g.efc); err != nil || g.m < 2 || g.efc < 2*g.m {
				b.Fatalf("REFARCH_BENCH_HNSW: %q is not m/ef_construction (ef_construction at least 2m)", f)
			}
			graphs = append(graphs, g)
		}
	}
	type catalogCase struct {
		name  string
		emb   func(b *testing.B) embedding.Embedder
		load  func(ctx context.Context, pool *pgxpool.Pool) error
		cache bool
	}
	use := func(b *testing.B) embedding.Embedder {
		emb, err := embedding.Open(b.Context(), embedding.Options{Name: "use", ModelDir: usetest.ModelDir(b)})
		if err != nil {
			b.Fatal(err)
		}
		return emb
	}
	cases := []catalogCase{
		{"seed-csv", use, func(ctx context.Context, pool *pgxpool.Pool) error {
			path := recall.SeedCSV()
			if path == "" {
				return fmt.Errorf("seed-products.csv not found (set REFARCH_SEED_CSV)")
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = catalog.ImportCSV(ctx, pool, f, catalog.ImportOptions{})
			return err
		}, true},
		{"generated-10k", use, func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := catalog.Seed(ctx, pool, catalog.SeedOptions{Count: 10000})
			return err
		}, true},
	}
	if n, err := strconv.Atoi(os.Getenv("REFARCH_BENCH_PRODUCTS")); err == nil && n > 0 {
		cases = append(cases, catalogCase{fmt.Sprintf("generated-%d-hash", n),
			func(*testing.B) embedding.Embedder { return embedding.NewHash(512) },
			func(ctx context.Context, pool *pgxpool.Pool) error {
				_, err := catalog.Seed(ctx, pool, catalog.SeedOptions{Count: n})
				return err
			}, false})
	}
	for _, cc := range cases {
		b.Run(cc.name, func(b *testing.B) {
			for b.Loop() {
				runRecall(b, cc.emb(b), cc.load, cc.cache, efs, graphs)
			}
		})
	}
}

// recallQuery asks for the top 10 with no relevance floor: the floor
// (0.425 for the use model) hides weak matches, which an exact scan's top
// 10 of a random query often holds, so with it recall@10 measured the
// floor (0.93 on the seed CSV at every ef_search from 150 to 400), not
// the index.
func recallQuery(text string) search.Query {
	noFloor := -1.0
	return search.Query{Text: text, K: 10, Mode: search.ModeVector, MinScore: &noFloor}
}

type recallScore struct{ at1, at10, n int }

// tieEps absorbs float rounding between the store's and Go's cosine.
const tieEps = 1e-5

// add scores one answer against the exact top 10. Catalogs hold products
// with the same text, so ties are common: a result counts when its score
// reaches the exact answer's (the k-th best for recall@10), whichever of
// the tied products it is.
func (r *recallScore) add(got []search.Result, exact []scored) {
	r.n++
	if len(exact) == 0 {
		return
	}
	if len(got) > 0 && got[0].Score >= exact[0].score-tieEps {
		r.at1++
	}
	kth := exact[min(10, len(exact))-1].score
	for _, g := range got[:min(10, len(got))] {
		if g.Score >= kth-tieEps {
			r.at10++
		}
	}
}

func (r recallScore) String() string {
	if r.n == 0 {
		return "      -       -"
	}
	return fmt.Sprintf("%7.3f %7.3f", float64(r.at1)/float64(r.n), float64(r.at10)/float64(10*r.n))
}

func runRecall(b *testing.B, emb embedding.Embedder, load func(context.Context, *pgxpool.Pool) error, cache bool, efs []int, graphs []hnswGraph) {
	ctx := context.Background()
	setup := time.Now()
	dir := ""
	if cache {
		dir = recall.CacheDir()
	}
	pool, cat, store := indexCatalog(b, emb, load, dir)
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM products`).Scan(&count); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d products indexed in %v", count, time.Since(setup).Round(time.Second))
	recent := recentvectors.NewScanner(pool, emb.Model(), recentvectors.Options{})
	plain := search.New(emb, store, cat, nil)
	fresh := search.New(emb, store, cat, nil).WithRecent(recent)
	r := rand.New(rand.NewPCG(19, 19))

	// (a) Random queries: three to five words drawn from the catalog's
	// own descriptions.
	var words []string
	rows, err := pool.Query(ctx, `SELECT description FROM products ORDER BY random() LIMIT 2000`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			b.Fatal(err)
		}
		words = append(words, strings.Fields(strings.Trim(d, "."))...)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	random := make([]string, 200)
	for i := range random {
		n := 3 + r.IntN(3)
		ws := make([]string, n)
		for j := range ws {
			ws[j] = words[r.IntN(len(words))]
		}
		random[i] = strings.Join(ws, " ")
	}

	// (b) Needles: 200 products edited, one write at a time as emu makes
	// them (store, then recent writes), to texts of another catalog.
	needles := catalog.Generate(200, 4242)
	for i := range needles {
		needles[i].ID = 1 + int64(r.IntN(count))
	}
	write := func(id int64, name, desc string) {
		v, err := emb.Embed(ctx, []string{product.EmbedText(name, desc)})
		if err != nil {
			b.Fatal(err)
		}
		vec := vectorstore.Vector{ID: vectormeta.VectorID(id), Values: v[0],
			Meta: vectormeta.Metadata{ProductID: id, Version: time.Now().UnixNano(), Model: emb.Model()}}
		if err := store.Upsert(ctx, []vectorstore.Vector{vec}); err != nil {
			b.Fatal(err)
		}
		if err := recentvectors.Record(ctx, pool, emb.Model(), []vectorstore.Vector{vec}, recentvectors.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range needles {
		write(p.ID, p.Name, p.Description)
	}
	needleQ := make([]string, len(needles))
	for i, p := range needles {
		needleQ[i] = p.Description
	}

	for gi, g := range graphs {
		if gi > 0 || g != (hnswGraph{16, 128}) {
			rebuild(b, pool, store, g)
		}
		type setting struct {
			ef                   int
			random, needle, isol [2]recallScore // ann, search
			annLat, lat          []time.Duration
		}
		settings := make([]*setting, len(efs))
		for i, ef := range efs {
			settings[i] = &setting{ef: ef}
		}
		measure := func(qs []string, score func(st *setting) *[2]recallScore) {
			for _, q := range qs {
				exact := exactIDs(b, pool, store, emb, q, 10)
				for _, st := range settings {
					store.SetEfSearch(st.ef)
					sq := recallQuery(q)
					a, err := plain.Search(ctx, sq)
					if err != nil {
						b.Fatal(err)
					}
					f, err := fresh.Search(ctx, sq)
					if err != nil {
						b.Fatal(err)
					}
					sc := score(st)
					sc[0].add(a.Results, exact)
					sc[1].add(f.Results, exact)
				}
			}
		}
		measure(random, func(st *setting) *[2]recallScore { return &st.random })
		measure(needleQ, func(st *setting) *[2]recallScore { return &st.needle })

		// (c) The isolated edits, each on its own product, reverted after.
		for i, e := range recall.IsolatedEdits {
			id := 1 + int64(i)*int64(count)/int64(len(recall.IsolatedEdits))
			old, err := cat.Get(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			write(id, e.Name, e.Description)
			measure([]string{e.Description}, func(st *setting) *[2]recallScore { return &st.isol })
			write(id, old.Name, old.Description)
		}

		// Latency, one setting at a time over the random and needle queries
		// (their vectors are cached by now, so this is the search path without
		// the embedder): the vector store alone, and with the recent writes.
		for _, st := range settings {
			store.SetEfSearch(st.ef)
			for _, q := range slices.Concat(random, needleQ) {
				sq := recallQuery(q)
				for _, svc := range []*search.Service{plain, fresh} {
					start := time.Now()
					if _, err := svc.Search(ctx, sq); err != nil {
						b.Fatal(err)
					}
					if svc == plain {
						st.annLat = append(st.annLat, time.Since(start))
					} else {
						st.lat = append(st.lat, time.Since(start))
					}
				}
			}
		}
		store.SetEfSearch(0)

		var out strings.Builder
		fmt.Fprintf(&out, "\n%d products, HNSW m=%d ef_construction=%d, k=10; recall vs exact scan, ties counted (ann = vector store alone, search = with recent writes)\n", count, g.m, g.efc)
		fmt.Fprintf(&out, "%-9s | %-31s | %-31s | %-31s | %s\n", "ef_search", "random: ann @1 @10 search @1 @10", "needle: ann @1 @10 search @1 @10", "isolated: ann @1 @10 search @1 @10", "p50/p99 ms: ann, search")
		ms := func(lat []time.Duration, q int) float64 {
			return float64(lat[len(lat)*q/100].Microseconds()) / 1000
		}
		for _, st := range settings {
			slices.Sort(st.lat)
			slices.Sort(st.annLat)
			ef := strconv.Itoa(st.ef)
			if st.ef == 0 {
				ef = "default"
			}
			fmt.Fprintf(&out, "%-9s | %s %s | %s %s | %s %s | %.1f/%.1f, %.1f/%.1f\n", ef,
				st.random[0], st.random[1], st.needle[0], st.needle[1], st.isol[0], st.isol[1],
				ms(st.annLat, 50), ms(st.annLat, 99), ms(st.lat, 50), ms(st.lat, 99))
		}
		// Printed, not logged: benchmark logs are cut after ten lines.
		fmt.Print(out.String())
	}
}

type scored struct {
	id    int64
	score float64
}

// exactIDs is the top k of an exact scan of the store's table.
func exactIDs(b testing.TB, pool *pgxpool.Pool, store *pgvectorstore.Store, emb embedding.Embedder, text string, k int) []scored {
	v, err := emb.Embed(context.Background(), []string{text})
	if err != nil {
		b.Fatal(err)
	}
	rows, err := pool.Query(context.Background(), `SELECT product_id, 1 - (embedding <=> $1::float4[]::vector) FROM `+store.Table()+`
		ORDER BY (embedding <=> $1::float4[]::vector) + 0, product_id LIMIT `+strconv.Itoa(k), v[0])
	if err != nil {
		b.Fatal(err)
	}
	var out []scored
	for rows.Next() {
		var s scored
		if err := rows.Scan(&s.id, &s.score); err != nil {
			b.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// hnswGraph is an HNSW build setting.
type hnswGraph struct{ m, efc int }

// rebuild replaces the store's HNSW index with one built with g.
func rebuild(b *testing.B, pool *pgxpool.Pool, store *pgvectorstore.Store, g hnswGraph) {
	ctx := context.Background()
	start := time.Now()
	idx := pgx.Identifier{store.Table() + "_hnsw"}.Sanitize()
	c, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Release()
	for _, sql := range []string{
		`DROP INDEX IF EXISTS ` + idx,
		`SET maintenance_work_mem = '512MB'`,
		fmt.Sprintf(`CREATE INDEX %s ON %s USING hnsw (embedding vector_cosine_ops) WITH (m = %d, ef_construction = %d)`,
			idx, pgx.Identifier{store.Table()}.Sanitize(), g.m, g.efc),
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Printf("HNSW m=%d ef_construction=%d built in %v\n", g.m, g.efc, time.Since(start).Round(time.Second))
}
