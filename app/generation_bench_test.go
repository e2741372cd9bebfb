package app

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding/use/usetest"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/recall"
	"github.com/refarch/refarch/internal/testkit"
)

// seedCSVPath is the seed catalog (recall.SeedCSV), or skips b without one.
func seedCSVPath(b *testing.B) string {
	p := recall.SeedCSV()
	if p == "" {
		b.Skip("seed-products.csv not found (set REFARCH_SEED_CSV)")
	}
	return p
}

// metricValue reads one unlabelled counter from a /metrics page.
func metricValue(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// BenchmarkGenerationBuildSeedCatalog is issue 13's acceptance figure: the
// time to build and promote a generation of the default model (the
// built-in use embedder) for the seed system's 9,999-row catalog, and the
// embedding work that price-only edits made during the build cause (none).
//
// The product runs as `refarch serve --all` (app.Run: serve, pelican and
// emu in one process, the Postgres queue, pgvector) on the imported CSV,
// indexed first by a cheap generation (the hash embedder). Then `refarch
// index create --embedder use --auto-promote` runs while a price edit is
// made every BENCH_EDIT_EVERY (default 50 ms); the figure is the time from
// the generation's creation to its promotion by pelican (created_at to
// promoted_at). Emu's counters then say what the build embedded: every row
// of the catalog once (refarch_emu_products_embedded_total), and nothing for
// the price edits, which update metadata only in each generation
// (refarch_emu_products_metadata_only_total).
func BenchmarkGenerationBuildSeedCatalog(b *testing.B) {
	path := seedCSVPath(b)
	modelDir := usetest.ModelDir(b)
	editEvery := 50 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("BENCH_EDIT_EVERY")); err == nil && d > 0 {
		editEvery = d
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		var cfg Config
		cfg.Bind(pflag.NewFlagSet("bench", pflag.ContinueOnError))
		cfg.DatabaseURL = pgtest.NewURL(b)
		cfg.Embedder, cfg.HashDim, cfg.ModelDir = "hash", 64, modelDir
		cfg.Addr = testkit.FreeAddr(b)
		pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		res, err := catalog.ImportCSV(ctx, pool, f, catalog.ImportOptions{SkipInvalid: true})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		var rows int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM products`).Scan(&rows); err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- Run(runCtx, cfg, Roles{Serve: true, Pelican: true, Emu: true}, slog.New(slog.DiscardHandler))
		}()
		testkit.WaitFor(b, 5*time.Minute, func() string {
			gens, err := describeGenerations(ctx, pool)
			if err != nil || len(gens) != 1 || gens[0].Indexed != rows {
				return fmt.Sprintf("the first generation indexing the %d rows: %+v %v", rows, gens, err)
			}
			if _, err := metricValue(cfg.Addr, "refarch_emu_products_embedded_total"); err != nil {
				return err.Error()
			}
			return ""
		})
		embedded0, _ := metricValue(cfg.Addr, "refarch_emu_products_embedded_total")
		meta0, _ := metricValue(cfg.Addr, "refarch_emu_products_metadata_only_total")

		// Price edits all through the build.
		editCtx, stopEdits := context.WithCancel(ctx)
		var edits atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			r := rand.New(rand.NewPCG(1, 2))
			t := time.NewTicker(editEvery)
			defer t.Stop()
			for {
				select {
				case <-editCtx.Done():
					return
				case <-t.C:
				}
				tag, err := pool.Exec(editCtx, `UPDATE products SET price = price + 0.01 WHERE id = (SELECT id FROM products OFFSET $1 LIMIT 1)`, r.Int64N(rows))
				if err == nil && tag.RowsAffected() == 1 {
					edits.Add(1)
				}
			}
		})

		next := cfg
		next.Embedder = "use"
		b.StartTimer()
		start := time.Now()
		g, created, err := IndexCreate(ctx, next, CreateOptions{AutoPromote: true})
		if err != nil || !created {
			b.Fatalf("index create: %v", err)
		}
		testkit.WaitFor(b, 2*time.Hour, func() string {
			got, err := generations.Get(ctx, pool, g.Name)
			if err != nil || got.State != generations.Active {
				return fmt.Sprintf("generation %s: %s %v", g.Name, got.State, err)
			}
			g = got
			return ""
		})
		wall := time.Since(start)
		b.StopTimer()
		stopEdits()
		wg.Wait()
		embedded1, _ := metricValue(cfg.Addr, "refarch_emu_products_embedded_total")
		meta1, _ := metricValue(cfg.Addr, "refarch_emu_products_metadata_only_total")
		took := g.PromotedAt.Sub(g.CreatedAt)
		embedded, meta := int64(embedded1-embedded0), int64(meta1-meta0)
		fmt.Printf("generation %s (%s, %d dimensions) of %d rows (%d read from the CSV): created to promoted (auto_promote) in %s (%.0f rows/s; %s as the caller waited);"+
			" %d price edits during the build; emu embedded %d products (%d beyond the %d rows) and updated metadata only for %d\n",
			g.Name, g.Model, g.Dims, rows, res.Read, took.Round(time.Millisecond), float64(rows)/took.Seconds(), wall.Round(time.Millisecond),
			edits.Load(), embedded, embedded-rows, rows, meta)
		b.ReportMetric(took.Seconds(), "build+promote-s")
		b.ReportMetric(float64(embedded-rows), "extra-embeddings")
		b.ReportMetric(float64(edits.Load()), "price-edits")
		if embedded != rows {
			b.Errorf("the build embedded %d products for %d rows: price edits cost embedding work", embedded, rows)
		}
		stop()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
		pool.Close()
		b.StartTimer()
	}
}
