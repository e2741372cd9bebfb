package emu

import (
	"context"
	"time"
)

// BulkIndexer is implemented by vector stores whose search index costs more
// to maintain row by row than to build after a bulk load: inserting into
// pgvector's HNSW graph costs milliseconds per vector, building it at the
// end of a bootstrap is several times cheaper.
type BulkIndexer interface {
	DropIndex(ctx context.Context) error
	CreateIndex(ctx context.Context) error
}

// watchBulk defers the store's search index during a bulk load: when the
// queue's backlog reaches BulkThreshold and the store holds fewer vectors
// than the threshold and the backlog (a first deployment, or a new model),
// it drops the index; once the backlog has fallen below a tenth of the threshold it
// builds it again. Searches stay correct meanwhile, only slower. On start it
// builds a missing index (a crash or a shutdown may have left one dropped);
// shutdown never waits for a build, which can outlast the minute ECS grants
// between SIGTERM and SIGKILL.
func (e *Emu) watchBulk(ctx context.Context, bi BulkIndexer) {
	create := func(why string) bool {
		start := time.Now()
		if err := bi.CreateIndex(ctx); err != nil {
			e.log.ErrorContext(ctx, "build vector search index", "err", err, "why", why)
			return false
		}
		e.log.InfoContext(ctx, "vector search index ready", "why", why, "took", time.Since(start).Round(time.Millisecond))
		return true
	}
	create("start")
	bulk := false
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if bulk {
				e.log.InfoContext(ctx, "stopping during a bulk load: the next start builds the search index")
			}
			return
		case <-t.C:
		}
		d, err := e.q.Depth(ctx)
		if err != nil {
			continue
		}
		switch {
		case !bulk && d.Visible >= e.cfg.BulkThreshold:
			n, err := e.store.Count(ctx)
			// Only a nearly empty index (a first deployment or a new
			// model): a live index keeps serving searches at full speed
			// through any mass update.
			if err != nil || n >= d.Visible || n >= e.cfg.BulkThreshold {
				continue
			}
			if err := bi.DropIndex(ctx); err != nil {
				e.log.ErrorContext(ctx, "drop vector search index for a bulk load", "err", err)
				continue
			}
			bulk = true
			e.log.InfoContext(ctx, "bulk load: search index deferred", "backlog", d.Visible, "vectors", n)
		case bulk && d.Visible < max(1, e.cfg.BulkThreshold/10):
			if create("bulk load done") {
				bulk = false
			}
		}
	}
}
