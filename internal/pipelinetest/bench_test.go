package pipelinetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/embedding/use"
	"github.com/refarch/refarch/embedding/use/usetest"
	"github.com/refarch/refarch/internal/recall"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// seedCSV is the seed catalog (recall.SeedCSV), or skips b without one.
func seedCSV(b *testing.B) string {
	p := recall.SeedCSV()
	if p == "" {
		b.Skip("seed-products.csv not found (set REFARCH_SEED_CSV)")
	}
	return p
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchConfigs are the pipeline settings the benchmarks run with; the
// BENCH_* variables override them for tuning.
func benchConfigs(e *env) (pelican.Config, emu.Config) {
	p := pelican.Config{Model: e.model, BatchSize: envInt("BENCH_PELICAN_BATCH", 1000), PollInterval: time.Second}
	m := emu.Config{Concurrency: envInt("BENCH_EMU_CONCURRENCY", 2), BatchSize: envInt("BENCH_EMU_BATCH", 250),
		Visibility: 30 * time.Second, Wait: 2 * time.Second, DepthInterval: -1, BulkThreshold: envInt("BENCH_BULK_THRESHOLD", 5000)}
	return p, m
}

// searchIndexExists reports whether pgvector's HNSW index is in place (a
// bulk load drops it and builds it at the end).
func (e *env) searchIndexExists(ctx context.Context) bool {
	e.t.Helper()
	var ok bool
	err := e.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, e.store.(*pgvectorstore.Store).Table()+"_hnsw").Scan(&ok)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// indexedCount is how many rows the index holds at their current version.
func (e *env) indexedCount(ctx context.Context) (products, indexed int) {
	e.t.Helper()
	err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM products),
		(SELECT count(*) FROM products p JOIN index_state s ON s.model = $1 AND s.product_id = p.id AND s.version = p.version AND NOT s.deleted)`,
		e.model).Scan(&products, &indexed)
	if err != nil {
		e.t.Fatal(err)
	}
	return products, indexed
}

// BenchmarkBootstrapSeedCSV imports the seed system's 9,999-row CSV into an
// empty catalog with pelican and emu (hash embedder, Postgres queue,
// pgvector) already running, and times import → every row indexed (rows/s),
// and separately the part after the import committed (after-import-rows/s)
// and the time until every vector is written, before emu builds the
// deferred HNSW index (written-rows/s).
// BENCH_BULK_THRESHOLD=N (default 5000, as the app; a huge value disables
// it) lets emu defer pgvector's HNSW index while the
// backlog is at least N (emu.Config.BulkThreshold); BENCH_DEFER_INDEX=1
// drops it before the load and rebuilds it at the end by hand (both timed).
// BENCH_EMU_BATCH,
// BENCH_EMU_CONCURRENCY and BENCH_PELICAN_BATCH tune the pipeline.
//
// The embedder=use variant runs the default backends end to end: the same,
// with the in-process use model instead of the hash embedder (skipped
// without REFARCH_MODEL_DIR).
//
// Each run then embeds the same texts with the embedder alone, in batches
// of emu's size one after the other (raw-texts/s), and prints the
// bootstrap's rate beside it: the pipeline's goal is to keep the embedder
// as busy as it is alone.
func BenchmarkBootstrapSeedCSV(b *testing.B) {
	b.Run("embedder=hash", func(b *testing.B) {
		benchmarkBootstrap(b, func() embedding.Embedder { return embedding.NewHash(32) })
	})
	b.Run("embedder=use", func(b *testing.B) {
		dir := usetest.ModelDir(b)
		benchmarkBootstrap(b, func() embedding.Embedder {
			m, err := use.Load(dir)
			if err != nil {
				b.Fatal(err)
			}
			return m
		})
	})
}

func benchmarkBootstrap(b *testing.B, newEmbedder func() embedding.Embedder) {
	path := seedCSV(b)
	ctx := context.Background()
	emb := newEmbedder()
	var rows, secs, pipeSecs, writtenSecs, rawRate float64
	for b.Loop() {
		b.StopTimer()
		e := newEnvWith(b, maxReceives, emb)
		pcfg, ecfg := benchConfigs(e)
		deferIndex := os.Getenv("BENCH_DEFER_INDEX") != ""
		if deferIndex {
			if err := e.store.(*pgvectorstore.Store).DropIndex(ctx); err != nil {
				b.Fatal(err)
			}
		}
		e.startEmu(ecfg, nil, nil, nil)
		pcfg.Ready = pelican.IndexReady(e.pool, e.model)
		e.startPelican(pcfg, nil)
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := catalog.ImportCSV(ctx, e.pool, f, catalog.ImportOptions{SkipInvalid: true})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		imported := time.Since(start)
		last := time.Now()
		var written time.Duration
		for {
			n, done := e.indexedCount(ctx)
			if n > 0 && done == n && written == 0 {
				written = time.Since(start)
			}
			if written > 0 && e.searchIndexExists(ctx) {
				break
			}
			if os.Getenv("BENCH_VERBOSE") != "" && time.Since(last) > time.Second {
				last = time.Now()
				b.Logf("%s: %+v", time.Since(start).Round(time.Millisecond), e.status(ctx))
			}
			// Counting is a join over the whole table: polling it often would
			// take a core from the pipeline being measured.
			time.Sleep(50 * time.Millisecond)
		}
		if deferIndex {
			b.Logf("indexed without HNSW after %s", time.Since(start).Round(time.Millisecond))
			if err := e.store.(*pgvectorstore.Store).CreateIndex(ctx); err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(start)
		b.StopTimer()
		n, _ := e.indexedCount(ctx)
		b.Logf("imported %d rows (%d read) in %s, every vector written after %s, search index ready after %s",
			n, res.Read, imported.Round(time.Millisecond), written.Round(time.Millisecond), took.Round(time.Millisecond))
		rows += float64(n)
		secs += took.Seconds()
		pipeSecs += (took - imported).Seconds()
		writtenSecs += written.Seconds()
		raw := rawEmbedRate(b, e, ecfg.BatchSize)
		rawRate += raw
		fmt.Printf("bootstrap of %d rows (%s): every vector written at %.0f rows/s, search index ready at %.0f rows/s; the embedder alone on the same texts %.0f texts/s; written/raw %.0f%%, ready/raw %.0f%%\n",
			n, emb.Model(), float64(n)/written.Seconds(), float64(n)/took.Seconds(), raw,
			100*float64(n)/written.Seconds()/raw, 100*float64(n)/took.Seconds()/raw)
		b.StartTimer()
	}
	b.ReportMetric(rawRate/float64(b.N), "raw-texts/s")
	b.ReportMetric(rows/secs, "rows/s")
	b.ReportMetric(rows/pipeSecs, "after-import-rows/s")
	// Until every vector is written and searchable (by exact scan), before
	// the deferred HNSW index is built.
	b.ReportMetric(rows/writtenSecs, "written-rows/s")
}

// rawEmbedRate embeds the texts of e's catalog with e's embedder alone, in
// batches of size one after the other, and returns texts/s of wall time.
func rawEmbedRate(b *testing.B, e *env, size int) float64 {
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `SELECT name, description FROM products ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	for rows.Next() {
		var name, desc string
		if err := rows.Scan(&name, &desc); err != nil {
			b.Fatal(err)
		}
		texts = append(texts, product.EmbedText(name, desc))
	}
	rows.Close()
	start := time.Now()
	for chunk := range slices.Chunk(texts, size) {
		if _, err := e.emb.Embed(ctx, chunk); err != nil {
			b.Fatal(err)
		}
	}
	return float64(len(texts)) / time.Since(start).Seconds()
}

// BenchmarkFreshness makes 1,000 single-row description edits, one every
// 5 ms, against an indexed catalog, and reports the time from each edit's
// commit to its vector being written (index_state.indexed_at, stamped with
// clock_timestamp() right after the vector store write, minus the row's
// updated_at, stamped by the edit's one-statement transaction).
func BenchmarkFreshness(b *testing.B) {
	ctx := context.Background()
	edits := envInt("BENCH_EDITS", 1000)
	var all []float64
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		pcfg, ecfg := benchConfigs(e)
		e.startEmu(ecfg, nil, nil, nil)
		e.startPelican(pcfg, nil)
		ids := e.insert(ctx, edits, "fresh")
		for {
			n, done := e.indexedCount(ctx)
			if done == n {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StartTimer()
		tick := time.NewTicker(5 * time.Millisecond)
		for i, id := range ids {
			<-tick.C
			if _, err := e.pool.Exec(ctx, `UPDATE products SET description = $2 WHERE id = $1`, id, "edited text number "+strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
		}
		tick.Stop()
		for {
			n, done := e.indexedCount(ctx)
			if done == n {
				break
			}
			// Counting is a join over the whole table: polling it often would
			// take a core from the pipeline being measured.
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		rows, err := e.pool.Query(ctx, `SELECT extract(epoch FROM s.indexed_at - p.updated_at)::float8 * 1000
			FROM products p JOIN index_state s ON s.model = $1 AND s.product_id = p.id WHERE p.id = ANY($2)`, e.model, ids)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var ms float64
			if err := rows.Scan(&ms); err != nil {
				b.Fatal(err)
			}
			all = append(all, ms)
		}
		rows.Close()
		b.StartTimer()
	}
	slices.Sort(all)
	q := func(p float64) float64 { return all[min(len(all)-1, int(p*float64(len(all))))] }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(all[len(all)-1], "max-ms")
}
