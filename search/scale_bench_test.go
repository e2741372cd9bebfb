package search_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// BenchmarkScaleSearch measures search on a catalog that is already loaded
// and indexed by a running `serve --all` with the hash embedder (make
// bench-scale runs it at 1,000,000 products): /api/search p50 and p99 at 8
// clients, with and without a category and price filter (targets p50 <=
// 15 ms, p99 <= 50 ms), beside GET /healthz at 8 clients as a same-run
// measure of the machine's load; and recall@10 of the store's HNSW search
// against an exact scan for 200 random queries, with and without the
// filter, for the default ef_search sizing and a sweep (target >= 0.95).
// The exact answers of all queries come from one pass over the table.
//
// REFARCH_BENCH_SCALE_ADDR is serve's base URL, DATABASE_URL its database,
// REFARCH_HASH_DIM the hash embedder's dimension (default 512),
// REFARCH_BENCH_EF the ef_search values swept ("none": no recall part).
func BenchmarkScaleSearch(b *testing.B) {
	addr := os.Getenv("REFARCH_BENCH_SCALE_ADDR")
	dsn := os.Getenv("DATABASE_URL")
	if addr == "" || dsn == "" {
		b.Skip("SKIPPING: make bench-scale runs this against its serve (REFARCH_BENCH_SCALE_ADDR, DATABASE_URL)")
	}
	dim := 512
	if s := os.Getenv("REFARCH_HASH_DIM"); s != "" {
		var err error
		if dim, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	emb := embedding.NewHash(dim)
	store, err := pgvectorstore.New(ctx, pool, emb.Model(), dim)
	if err != nil {
		b.Fatal(err)
	}
	// Recall is about the answers: a slow query on a loaded machine must
	// not end the measurement (serve keeps its own timeout).
	store.SetSearchOptions(pgvectorstore.SearchOptions{Timeout: time.Minute})
	if !store.IndexReady(ctx) {
		b.Fatal("the HNSW index is not ready")
	}

	// 200 random queries of three to five catalog words, each with a
	// category and price filter taken from a random product: its category
	// and a price band around its price.
	r := rand.New(rand.NewPCG(12, 12))
	rows, err := pool.Query(ctx, `SELECT description, category, price::float8 FROM products
		WHERE random() < 4000.0 / greatest(1000, (SELECT reltuples FROM pg_class WHERE oid = 'products'::regclass)) LIMIT 2000`)
	if err != nil {
		b.Fatal(err)
	}
	type sample struct {
		Desc, Cat string
		Price     float64
	}
	samples, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sample])
	if err != nil || len(samples) == 0 {
		b.Fatalf("sample products: %v (%d rows)", err, len(samples))
	}
	var words []string
	for _, s := range samples {
		words = append(words, strings.Fields(strings.Trim(s.Desc, "."))...)
	}
	type query struct {
		text   string
		vec    []float32
		filter vectormeta.Filter
	}
	queries := make([]query, 200)
	for i := range queries {
		ws := make([]string, 3+r.IntN(3))
		for j := range ws {
			ws[j] = words[r.IntN(len(words))]
		}
		s := samples[r.IntN(len(samples))]
		lo, hi := math.Floor(s.Price/2), math.Ceil(s.Price*2)
		queries[i] = query{text: strings.Join(ws, " "), filter: vectormeta.Filter{Category: s.Cat, MinPrice: &lo, MaxPrice: &hi}}
		v, err := emb.Embed(ctx, []string{queries[i].text})
		if err != nil {
			b.Fatal(err)
		}
		queries[i].vec = v[0]
	}

	// REFARCH_BENCH_EF=none measures only /api/search at 8 clients (the
	// recall part's exact pass takes minutes at a million rows).
	latencyOnly := os.Getenv("REFARCH_BENCH_EF") == "none"

	// Exact top 10 of every query, plain and filtered, in one pass.
	const k = 10
	start := time.Now()
	exact := make([][2][]float64, len(queries)) // k best exact scores, plain and filtered
	var mu sync.Mutex
	type row struct {
		cat   string
		price float64
		vec   []float32
	}
	work := make(chan []row, 4)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			local := make([][2][]float64, len(queries))
			for chunk := range work {
				for _, rw := range chunk {
					n := math.Sqrt(dot(rw.vec, rw.vec))
					if n == 0 {
						continue
					}
					for qi, q := range queries {
						s := dot(q.vec, rw.vec) / n
						local[qi][0] = keepBest(local[qi][0], s, k)
						if q.filter.Match(vectormeta.Metadata{Category: rw.cat, Price: rw.price}) {
							local[qi][1] = keepBest(local[qi][1], s, k)
						}
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for qi := range exact {
				for m := range 2 {
					for _, s := range local[qi][m] {
						exact[qi][m] = keepBest(exact[qi][m], s, k)
					}
				}
			}
		})
	}
	scanSQL := `SELECT category, price, embedding::float4[] FROM ` + pgx.Identifier{store.Table()}.Sanitize()
	if latencyOnly {
		scanSQL += ` LIMIT 0`
	}
	scan, err := pool.Query(ctx, scanSQL)
	if err != nil {
		b.Fatal(err)
	}
	var chunk []row
	total := 0
	for scan.Next() {
		var rw row
		if err := scan.Scan(&rw.cat, &rw.price, &rw.vec); err != nil {
			b.Fatal(err)
		}
		chunk = append(chunk, rw)
		if len(chunk) == 1000 {
			work <- chunk
			total += len(chunk)
			chunk = nil
		}
	}
	if err := scan.Err(); err != nil {
		b.Fatal(err)
	}
	total += len(chunk)
	work <- chunk
	close(work)
	wg.Wait()
	fmt.Printf("\nscale search: %d vectors of %d dimensions; exact answers of %d queries in one pass: %v\n",
		total, dim, len(queries), time.Since(start).Round(time.Second))

	// Recall of the store's search (HNSW, iterative strict-order scans) at
	// the default sizing and a sweep of ef_search.
	fmt.Printf("%-10s | %-28s | %-28s\n", "ef_search", "recall@10 (p50 ms)", "filtered: recall@10, short answers (p50 ms)")
	// REFARCH_BENCH_EF overrides the sweep (comma-separated, 0 = the default sizing).
	efs := []int{0, 100, 200, 400, 600, 1000}
	if s := os.Getenv("REFARCH_BENCH_EF"); latencyOnly {
		efs = nil
	} else if s != "" {
		efs = nil
		for _, f := range strings.Split(s, ",") {
			ef, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("REFARCH_BENCH_EF=%q: %v", s, err)
			}
			efs = append(efs, ef)
		}
	}
	for _, ef := range efs {
		store.SetEfSearch(ef)
		var hits, want [2]int
		short := 0
		lat := [2][]time.Duration{}
		for qi, q := range queries {
			for m, f := range []vectormeta.Filter{{}, q.filter} {
				t := time.Now()
				got, err := store.Query(ctx, q.vec, k, f)
				if err != nil {
					b.Fatal(err)
				}
				lat[m] = append(lat[m], time.Since(t))
				ex := exact[qi][m]
				want[m] += len(ex)
				if len(ex) == 0 {
					continue
				}
				if m == 1 && len(got) < len(ex) {
					short++
				}
				kth := ex[len(ex)-1]
				for _, g := range got {
					if float64(g.Score) >= kth-1e-5 {
						hits[m]++
					}
				}
			}
		}
		slices.Sort(lat[0])
		slices.Sort(lat[1])
		name := strconv.Itoa(ef)
		if ef == 0 {
			name = "default"
		}
		fmt.Printf("%-10s | %.3f (%.1f)%15s | %.3f, %d of %d short (%.1f)\n", name,
			float64(hits[0])/float64(want[0]), pct(lat[0], 0.5), "", float64(hits[1])/float64(want[1]), short, len(queries), pct(lat[1], 0.5))
		if ef == 0 {
			b.ReportMetric(float64(hits[0])/float64(want[0]), "recall@10")
			b.ReportMetric(float64(hits[1])/float64(want[1]), "recall@10_filtered")
		}
	}
	store.SetEfSearch(0)

	// /api/search at 8 clients, each request a new text, with and without
	// the filter; /healthz alike as the machine's baseline.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var round atomic.Int64
	run := func(name string, path func(i int) string) {
		round.Add(1)
		lat, failed := clients8(b, client, 1000, func(i int) string { return addr + path(i) })
		fmt.Printf("%-30s n=%d p50=%.1fms p99=%.1fms failed=%d\n", name, len(lat), pct(lat, 0.5), pct(lat, 0.99), failed)
		b.ReportMetric(pct(lat, 0.5), name+"_p50_ms")
		b.ReportMetric(pct(lat, 0.99), name+"_p99_ms")
	}
	search := func(filtered bool) func(i int) string {
		return func(i int) string {
			q := queries[i%len(queries)]
			v := url.Values{"q": {fmt.Sprintf("%s %d", q.text, round.Load()*1_000_000+int64(i))}, "k": {"10"}, "min_score": {"-1"}}
			if filtered {
				v.Set("category", q.filter.Category)
				v.Set("min_price", strconv.FormatFloat(*q.filter.MinPrice, 'f', 2, 64))
				v.Set("max_price", strconv.FormatFloat(*q.filter.MaxPrice, 'f', 2, 64))
			}
			return "/api/search?" + v.Encode()
		}
	}
	run("healthz", func(int) string { return "/healthz" })
	run("search", search(false))
	run("search_filtered", search(true))
}

func dot(a, b []float32) float64 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return float64(s0 + s1 + s2 + s3)
}

// keepBest keeps the k highest scores, highest first.
func keepBest(best []float64, s float64, k int) []float64 {
	if len(best) == k && s <= best[k-1] {
		return best
	}
	i, _ := slices.BinarySearchFunc(best, s, func(a, b float64) int { return cmp.Compare(b, a) })
	best = slices.Insert(best, i, s)
	return best[:min(k, len(best))]
}

// clients8 makes n GET requests from 8 concurrent clients and returns the
// latencies of those answered 200, sorted, and how many were answered
// otherwise (a search over its time budget is a 503: counted, not fatal,
// so that a loaded machine still gives figures); a request that gets no
// answer fails the benchmark.
func clients8(b *testing.B, client *http.Client, n int, url func(i int) string) ([]time.Duration, int) {
	var next atomic.Int64
	var failed atomic.Int64
	lat := make([][]time.Duration, 8)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				resp, err := client.Get(url(i))
				if err != nil {
					errs <- err
					return
				}
				var body struct {
					Results []json.RawMessage `json:"results"`
				}
				if strings.Contains(resp.Request.URL.Path, "/api/") {
					err = json.NewDecoder(resp.Body).Decode(&body)
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("GET %s: %w", url(i), err)
					return
				}
				lat[c] = append(lat[c], time.Since(t))
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return all, int(failed.Load())
}

func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Microseconds()) / 1000
}
