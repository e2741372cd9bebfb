package emu

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/vectorstore"
)

// BulkIndexer is implemented by vector stores whose search index costs more
// to maintain row by row than to build after a bulk load: inserting into
// pgvector's HNSW graph costs milliseconds per vector, building it at the
// end of a bootstrap is several times cheaper.
type BulkIndexer interface {
	DropIndex(ctx context.Context) error
	// CreateIndex builds the index if it is missing, letting writes go on,
	// and any secondary indexes the store keeps for the data it now holds,
	// and returns when they are ready; it gives up only on a stalled build.
	CreateIndex(ctx context.Context) error
	// IndexProgress says whether the index is ready, building or missing.
	IndexProgress(ctx context.Context) (vectorstore.IndexProgress, error)
}

// Timing of the index builder. A failed build is tried once more after
// Config.IndexBuildRetry, then emu gives up until it restarts: a build that
// failed twice needs the operator (the error says why), and restarting it
// in a loop would only keep the database busy.
const (
	buildAttempts   = 2
	progressEvery   = 2 * time.Second
	logEveryPercent = 5
	// recheckEvery is how often emu calls CreateIndex on a ready index, so
	// that a store that keeps secondary indexes for a growing catalog (the
	// pgvector store's category indexes) builds the new ones.
	recheckEvery = 10 * time.Minute
	// bulkPoll is how often watchBulk reads the queue's depth: once a
	// second notices a bootstrap's backlog after a few hundred index
	// inserts, and reading it four times a second cost the Postgres queue
	// about 5% of a bootstrap's database time (issue 12).
	bulkPoll = time.Second
	// bulkIdle is how long a bulk load's queue must stay empty before the
	// load is judged done with products still unwritten (they failed, or
	// nothing is sending them). It outlasts the gap between a bootstrap's
	// start and pelican's first range: computing the chunks of a million
	// products took 4.6 s, and with the load ended on the first empty
	// reading the index was built with 2 of them written, then dropped
	// again, and the first 35 s of writes paid for HNSW inserts.
	bulkIdle = time.Minute
)

// indexMetrics show the search index's state in /metrics.
type indexMetrics struct {
	ready, done, total, eta prometheus.Gauge
}

func newIndexMetrics(reg prometheus.Registerer) indexMetrics {
	f := promauto.With(reg)
	g := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	return indexMetrics{
		ready: g("refarch_search_index_ready", "1 when the vector search index is built and used by searches, 0 while it is missing or building."),
		done:  g("refarch_search_index_build_done", "Vectors loaded into the search index being built."),
		total: g("refarch_search_index_build_total", "Vectors the search index being built will hold."),
		eta:   g("refarch_search_index_build_eta_seconds", "Estimated seconds until the search index being built is ready (0 when unknown)."),
	}
}

// watchBulk defers the store's search index during a bulk load: when the
// queue's backlog reaches BulkThreshold and the store holds fewer vectors
// than the threshold and the backlog (a first deployment, or a new model),
// it drops the index; once the messages waiting and the products not yet
// written have fallen below a tenth of the threshold (or no message has been
// left for bulkIdle) it builds it again. Searches stay bounded meanwhile (the store
// ranks part of the table and says the index is not ready). On start it
// builds a missing index (a crash may have left one dropped, or a build
// interrupted), unless a bulk load is still under way.
func (e *Emu) watchBulk(ctx context.Context, tg *target, bi BulkIndexer) {
	b := &indexBuilder{e: e, bi: bi}
	bulk, want := false, true
	if p, err := bi.IndexProgress(ctx); err == nil && p.State == vectorstore.IndexMissing {
		if d, err := e.q.Depth(ctx); err == nil {
			if todo, _ := e.bulkBacklog(ctx, tg, d); todo >= e.cfg.BulkThreshold {
				bulk, want = true, false
				e.log.InfoContext(ctx, "bulk load resumes: search index deferred until the backlog drains", "backlog", todo)
			}
		}
	}
	t := time.NewTicker(bulkPoll)
	defer t.Stop()
	recheck := time.Now().Add(recheckEvery)
	busy := time.Now() // the last reading with a message waiting or held
	for {
		if want && b.due() {
			if b.build(ctx) {
				want = false
				recheck = time.Now().Add(recheckEvery)
			}
		}
		if !bulk && !want && time.Now().After(recheck) {
			recheck = time.Now().Add(recheckEvery)
			if err := bi.CreateIndex(ctx); err != nil && ctx.Err() == nil {
				e.log.ErrorContext(ctx, "check the vector search indexes", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			if bulk || want {
				e.log.InfoContext(ctx, "shutting down with the search index not built; the next start builds it")
			}
			return
		case <-t.C:
		}
		d, err := e.q.Depth(ctx)
		if err != nil {
			continue
		}
		todo, lag := e.bulkBacklog(ctx, tg, d)
		if backlog(d) > 0 {
			busy = time.Now()
		}
		switch {
		case !bulk && !want && todo >= e.cfg.BulkThreshold:
			n, err := tg.store.Count(ctx)
			// Only a nearly empty index (a first deployment or a new
			// model): a live index keeps serving searches at full speed
			// through any mass update.
			if err != nil || n >= todo || n >= e.cfg.BulkThreshold {
				continue
			}
			if err := bi.DropIndex(ctx); err != nil {
				e.log.ErrorContext(ctx, "drop vector search index for a bulk load", "err", err)
				continue
			}
			bulk, busy = true, time.Now()
			b.m().ready.Set(0)
			e.log.InfoContext(ctx, "bulk load: search index deferred", "backlog", todo, "vectors", n)
		case bulk && d.Visible < max(1, e.cfg.BulkThreshold/10) && (lag < max(1, e.cfg.BulkThreshold/10) || time.Since(busy) >= bulkIdle):
			// Ranges are few messages for many products: the load is
			// done when the products not written are few too (or no
			// message has been left for a while, whatever failed). At a tenth of the
			// threshold in messages alone, the build of a 10,000-product
			// load with the default model began with 4,499 products
			// unwritten, which then went into a graph being built on
			// the same cores as the embedder: 41% of its raw rate,
			// against 50% without ranges.
			bulk, want = false, true
			e.log.InfoContext(ctx, "bulk load done: building the search index", "backlog", d.Visible, "unwritten", lag)
		}
	}
}

// backlog is the work a bulk load is judged by: the messages waiting and
// those the workers hold (a worker's pipeline slots hold several batches).
func backlog(d queue.Depth) int { return d.Visible + d.InFlight }

// bulkBacklog is the work a bulk load into target tg's index is judged by,
// in messages or products, whichever is more (todo): a range message
// stands for many products, so the products the index has not had written
// yet (lag, indexstate's Unwritten; 0 when it cannot be read) count too.
func (e *Emu) bulkBacklog(ctx context.Context, tg *target, d queue.Depth) (todo, lag int) {
	if n, err := indexstate.New(e.pool, tg.name).Unwritten(ctx); err == nil {
		lag = int(n)
	}
	return max(backlog(d), lag), lag
}

// indexBuilder runs builds, reports their progress and gives up after
// buildAttempts failures.
type indexBuilder struct {
	e        *Emu
	bi       BulkIndexer
	failures int
	retryAt  time.Time
}

func (b *indexBuilder) m() indexMetrics { return b.e.index }

// due reports whether a build may start now.
func (b *indexBuilder) due() bool {
	return b.failures < buildAttempts && !time.Now().Before(b.retryAt)
}

// build builds the index, reporting progress until it is ready; false when
// it failed or emu is stopping. Stopping cancels the build: the database
// drops its work, and the next start builds again.
func (b *indexBuilder) build(ctx context.Context) bool {
	e := b.e
	start := time.Now()
	b.m().ready.Set(0)
	done := make(chan error, 1)
	go func() { done <- b.bi.CreateIndex(ctx) }()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	nextLog := 0.0
	for {
		select {
		case err := <-done:
			b.m().done.Set(0)
			b.m().total.Set(0)
			b.m().eta.Set(0)
			if err == nil {
				b.m().ready.Set(1)
				e.log.InfoContext(ctx, "vector search index ready", "took", time.Since(start).Round(time.Millisecond))
				return true
			}
			if ctx.Err() != nil {
				return false
			}
			b.failures++
			b.retryAt = time.Now().Add(e.cfg.IndexBuildRetry)
			if b.failures >= buildAttempts {
				e.log.ErrorContext(ctx, "build vector search index: giving up until emu restarts; searches rank only part of the catalog meanwhile",
					"err", err, "attempts", b.failures)
			} else {
				e.log.ErrorContext(ctx, "build vector search index: trying once more", "err", err, "retry_in", e.cfg.IndexBuildRetry)
			}
			return false
		case <-t.C:
			p, err := b.bi.IndexProgress(ctx)
			if err != nil || p.State != vectorstore.IndexBuilding {
				continue
			}
			b.m().done.Set(float64(p.Done))
			b.m().total.Set(float64(p.Total))
			b.m().eta.Set(p.ETASeconds)
			if pct := p.Percent(); pct >= nextLog && p.Done > 0 {
				e.log.InfoContext(ctx, "building vector search index", "percent", int(pct), "done", p.Done, "total", p.Total,
					"phase", p.Phase, "eta", (time.Duration(p.ETASeconds) * time.Second).String())
				nextLog = (float64(int(pct)/logEveryPercent) + 1) * logEveryPercent
			}
		}
	}
}
