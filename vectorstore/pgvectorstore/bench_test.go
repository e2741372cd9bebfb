package pgvectorstore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

var benchCategories = []string{"books", "garden", "kitchen", "toys", "sports", "music", "office", "beauty"}

// BenchmarkPgvectorQuery searches 10,000 random vectors of 512 dimensions
// for the top 10, without a filter and with the filters search uses
// (category: 1 in 8 rows; price: about a third; both: about 4%).
func BenchmarkPgvectorQuery(b *testing.B) {
	const n, dim, k = 10000, 512, 10
	ctx := b.Context()
	pool := pgtest.New(b)
	s, err := New(ctx, pool, "bench-model", dim)
	if err != nil {
		b.Fatal(err)
	}
	vs := randomVectors(1, n, dim, benchCategories)
	if err := s.DropIndex(ctx); err != nil { // load as a bootstrap does, index built after
		b.Fatal(err)
	}
	for chunk := range slices.Chunk(vs, 500) {
		if err := s.Upsert(ctx, chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.CreateIndex(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.qtable); err != nil {
		b.Fatal(err)
	}
	queries := randomVectors(2, 64, dim, benchCategories)
	lo, hi := 50.0, 400.0
	filters := []struct {
		name string
		f    vectormeta.Filter
	}{
		{"nofilter", vectormeta.Filter{}},
		{"category", vectormeta.Filter{Category: "garden"}},
		{"price", vectormeta.Filter{MinPrice: &lo, MaxPrice: &hi}},
		{"category+price", vectormeta.Filter{Category: "garden", MinPrice: &lo, MaxPrice: &hi}},
	}
	// One op is 100 queries, so that `make bench` (-benchtime 1x) still
	// measures a distribution: queries/s and p50/p99 latency.
	const perOp = 100
	for _, fc := range filters {
		b.Run(fc.name, func(b *testing.B) {
			var lat []time.Duration
			i := 0
			for b.Loop() {
				for range perOp {
					start := time.Now()
					got, err := s.Query(ctx, queries[i%len(queries)].Values, k, fc.f)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
					if len(got) != k {
						b.Fatalf("%d results, want %d", len(got), k)
					}
					i++
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkPgvectorUpsert writes batches of 100 vectors of 512 dimensions
// into a table with an HNSW index (new ids each time, so every row is an
// index insert): the vector write path.
func BenchmarkPgvectorUpsert(b *testing.B) {
	const dim, batch = 512, 100
	ctx := b.Context()
	s, err := New(ctx, pgtest.New(b), "bench-model", dim)
	if err != nil {
		b.Fatal(err)
	}
	pool := randomVectors(3, 2000, dim, benchCategories)
	next := int64(0)
	for b.Loop() {
		vs := make([]vectorstore.Vector, batch)
		for i := range vs {
			next++
			vs[i] = pool[int(next)%len(pool)]
			vs[i].ID = vectormeta.VectorID(next)
			vs[i].Meta.ProductID = next
		}
		if err := s.Upsert(ctx, vs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "vectors/s")
}

// BenchmarkPgvectorUpdateMetadata rewrites the metadata of 100 stored vectors
// per call, the path a price-only edit takes.
func BenchmarkPgvectorUpdateMetadata(b *testing.B) {
	const dim, n, batch = 512, 2000, 100
	ctx := b.Context()
	s, err := New(ctx, pgtest.New(b), "bench-model", dim)
	if err != nil {
		b.Fatal(err)
	}
	vs := randomVectors(4, n, dim, benchCategories)
	if err := s.Upsert(ctx, vs); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for b.Loop() {
		metas := make([]vectormeta.Metadata, batch)
		for i := range metas {
			metas[i] = vs[r.IntN(n)].Meta
			metas[i].Price = float64(r.IntN(10000)) / 100
		}
		if err := s.UpdateMetadata(ctx, metas); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "vectors/s")
}

// BenchmarkPgvectorLoad loads 10,000 vectors of 512 dimensions in batches of
// 500, into a table with its HNSW index and into one without it followed by
// CreateIndex (the bootstrap path), reporting vectors/s for the whole load.
func BenchmarkPgvectorLoad(b *testing.B) {
	const n, dim = 10000, 512
	vs := randomVectors(6, n, dim, benchCategories)
	for _, deferIndex := range []bool{false, true} {
		name := "with-index"
		if deferIndex {
			name = "index-after"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				ctx := b.Context()
				s, err := New(ctx, pgtest.New(b), "bench-model", dim)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if deferIndex {
					if err := s.DropIndex(ctx); err != nil {
						b.Fatal(err)
					}
				}
				for chunk := range slices.Chunk(vs, 500) {
					if err := s.Upsert(ctx, chunk); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.CreateIndex(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "vectors/s")
		})
	}
}
