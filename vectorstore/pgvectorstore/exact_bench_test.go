package pgvectorstore

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/vectormeta"
)

// BenchmarkPgvectorExactScan measures what an exact top-10 scan costs by
// catalog size and by how the vectors are stored, beside the HNSW search
// of the same table: "toast" is the table as New creates it (a 512-dimension
// vector is 2 KB, past the TOAST threshold, so every row's vector is
// fetched from the TOAST table), "plain" keeps the vector in the row
// (STORAGE PLAIN), "halfvec" stores 16-bit floats (1 KB, in the row).
// Sizes: REFARCH_BENCH_EXACT_SIZES (comma-separated, default 1000,2500,5000,10000).
func BenchmarkPgvectorExactScan(b *testing.B) {
	const dim, k, queries = 512, 10, 40
	sizes := []int{1000, 2500, 5000, 10000}
	if v := os.Getenv("REFARCH_BENCH_EXACT_SIZES"); v != "" {
		sizes = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("REFARCH_BENCH_EXACT_SIZES: %q is not a size", f)
			}
			sizes = append(sizes, n)
		}
	}
	qs := randomVectors(8, queries, dim, benchCategories)
	for _, n := range sizes {
		ctx := b.Context()
		pool := pgtest.New(b)
		s, err := New(ctx, pool, "bench-model", dim)
		if err != nil {
			b.Fatal(err)
		}
		plain := pgtest.New(b)
		sp, err := New(ctx, plain, "bench-model", dim)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plain.Exec(ctx, `ALTER TABLE `+sp.qtable+` ALTER COLUMN embedding SET STORAGE PLAIN`); err != nil {
			b.Fatal(err)
		}
		vs := randomVectors(7, n, dim, benchCategories)
		for _, st := range []*Store{s, sp} {
			if err := st.DropIndex(ctx); err != nil {
				b.Fatal(err)
			}
			for chunk := range slices.Chunk(vs, 500) {
				if err := st.Upsert(ctx, chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := st.CreateIndex(ctx); err != nil {
				b.Fatal(err)
			}
		}
		for _, sql := range []string{
			`CREATE TABLE halfvecs (id text, embedding halfvec(512))`,
			`ALTER TABLE halfvecs ALTER COLUMN embedding SET STORAGE PLAIN`,
			`INSERT INTO halfvecs SELECT id, embedding::halfvec(512) FROM ` + s.qtable,
			`VACUUM ANALYZE halfvecs`, `VACUUM ANALYZE ` + s.qtable,
		} {
			if _, err := pool.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := plain.Exec(ctx, `VACUUM ANALYZE `+sp.qtable); err != nil {
			b.Fatal(err)
		}
		cases := []struct {
			name string
			run  func(q []float32) error
		}{
			{"hnsw", func(q []float32) error { _, err := s.Query(ctx, q, k, vectormeta.Filter{}); return err }},
			{"toast", func(q []float32) error {
				_, err := pool.Exec(ctx, `SELECT id FROM `+s.qtable+` ORDER BY (embedding <=> $1::float4[]::vector) + 0 LIMIT 10`, q)
				return err
			}},
			{"plain", func(q []float32) error {
				_, err := plain.Exec(ctx, `SELECT id FROM `+sp.qtable+` ORDER BY (embedding <=> $1::float4[]::vector) + 0 LIMIT 10`, q)
				return err
			}},
			{"halfvec", func(q []float32) error {
				_, err := pool.Exec(ctx, `SELECT id FROM halfvecs ORDER BY (embedding <=> $1::float4[]::halfvec) + 0 LIMIT 10`, q)
				return err
			}},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				var lat []time.Duration
				for b.Loop() {
					for _, q := range qs {
						start := time.Now()
						if err := c.run(q.Values); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(start))
					}
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}
