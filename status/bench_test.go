package status_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/status"
)

// BenchmarkStatus measures status.Get (what `refarch status`, the status
// page, its sampler and the /metrics gauges read) on an indexed catalog of
// 1,000 and 100,000 products (REFARCH_BENCH_PRODUCTS adds a size): idle,
// and while a writer edits products and records them indexed, as emu does,
// with the folder running. The exhaustive count it replaced is measured
// beside it. The 1,000,000-row figures come from `make bench-scale`.
func BenchmarkStatus(b *testing.B) {
	sizes := []int{1_000, 100_000}
	if n, err := strconv.Atoi(os.Getenv("REFARCH_BENCH_PRODUCTS")); err == nil && n > 0 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			ctx := context.Background()
			pool := pgtest.New(b)
			const model = "bench"
			mustExec := func(sql string, args ...any) {
				b.Helper()
				if _, err := pool.Exec(ctx, sql, args...); err != nil {
					b.Fatalf("%s: %v", sql, err)
				}
			}
			mustExec(`INSERT INTO vector_indexes (model, store) VALUES ($1, 'pgvector')`, model)
			mustExec(`INSERT INTO products (sku, name, description, price, category)
				SELECT 'S' || g, 'product ' || g, repeat('a description of the product ', 8), 10, 'c' || (g % 20)
				FROM generate_series(1, $1::int) g`, n)
			mustExec(`INSERT INTO index_state (model, product_id, version, content_hash, changed_at)
				SELECT $1, id, version, 'h', now() FROM products`, model)
			mustExec(`DELETE FROM sync_outbox`)
			if err := indexstate.FoldAll(ctx, pool); err != nil {
				b.Fatal(err)
			}
			mustExec(`VACUUM ANALYZE`)

			measure := func(name string, calls int, get func() error) {
				b.Helper()
				lat := make([]time.Duration, 0, calls)
				for range calls {
					t := time.Now()
					if err := get(); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t))
				}
				slices.Sort(lat)
				p := func(q float64) float64 {
					return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
				}
				b.ReportMetric(p(0.5), name+"_p50_ms")
				b.ReportMetric(p(0.99), name+"_p99_ms")
			}
			get := func() error {
				s, err := status.Get(ctx, pool, nil, model)
				if err == nil && s.Products != int64(n) {
					err = fmt.Errorf("status counts %d products, want %d", s.Products, n)
				}
				return err
			}
			b.ResetTimer()
			measure("idle", 200, get)
			measure("exhaustive", 5, func() error {
				_, err := indexstate.New(pool, model).SummarizeExhaustive(ctx)
				return err
			})

			// Under writes: an editor and an emu-like writer, and the folder.
			wctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			var writes atomic.Int64
			wg.Go(func() {
				for id := int64(1); wctx.Err() == nil; id = id%int64(n) + 1 {
					if _, err := pool.Exec(wctx, `UPDATE products SET name = name || '.' WHERE id = $1`, id); err == nil {
						writes.Add(1)
					}
					if _, err := pool.Exec(wctx, `UPDATE index_state s SET version = p.version FROM products p
						WHERE s.model = $1 AND s.product_id = p.id AND p.id = $2`, model, id); err == nil {
						writes.Add(1)
					}
				}
			})
			wg.Go(func() { _ = indexstate.RunFolder(wctx, pool, slog.New(slog.DiscardHandler)) })
			for writes.Load() < 20 {
				runtime.Gosched()
			}
			measure("writing", 200, func() error {
				_, err := status.Get(ctx, pool, nil, model)
				return err
			})
			stop()
			wg.Wait()
			b.ReportMetric(float64(writes.Load()), "writes")
		})
	}
}
