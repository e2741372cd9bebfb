package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/roles/serve"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// serveDeps builds serve's dependencies beyond logging, metrics and
// readiness: the catalog, search with the same embedder and vector store
// emu writes with, the per-row sync badges and the status page.
func serveDeps(pool *pgxpool.Pool, sh *shared, searchTimeout time.Duration) serve.Deps {
	model, storeName := sh.model, sh.store.Name()
	products := catalog.NewStore(pool)
	rate := &rateMeter{window: rateWindow}
	return serve.Deps{
		Catalog: products,
		Search: search.New(sh.queryEmb, sh.store, products, search.NewPGFullText(pool, searchTimeout)).
			WithRecent(recentvectors.NewScanner(pool, model, recentvectors.Options{})),
		SyncStates: func(ctx context.Context, ids []int64) (map[int64]string, error) {
			return status.ProductStates(ctx, pool, model, ids)
		},
		Status: func(ctx context.Context) (serve.Status, error) {
			st, err := status.Get(ctx, pool, sh.q, model)
			if err != nil {
				return serve.Status{}, err
			}
			writes, err := indexstate.New(pool, model).IndexWrites(ctx)
			if err != nil {
				return serve.Status{}, err
			}
			out := serve.Status{
				Products: st.Products, Indexed: st.Indexed, Stale: st.Stale, Missing: st.Missing, Failed: st.Failed,
				Outbox: st.Outbox, QueueVisible: int64(st.Queue.Visible), QueueInFlight: int64(st.Queue.InFlight),
				QueueDead: int64(st.Queue.Dead), LagSeconds: st.OldestUnindexedAgeSeconds,
				IndexRate: rate.observe(time.Now(), writes), Model: model, VectorStore: storeName,
				Outage: outageText(st.Outage),
			}
			if ip, ok := sh.store.(indexProgress); ok {
				p, err := ip.IndexProgress(ctx)
				if err != nil {
					return serve.Status{}, err
				}
				out.SearchIndex = &p
			}
			return out, nil
		},
	}
}

// outageText is the status page's line for an outage, "" for none.
func outageText(o *status.Outage) string {
	if o == nil {
		return ""
	}
	return fmt.Sprintf("%s failing for every product since %s UTC (%s)", strings.ReplaceAll(o.Component, "_", " "),
		o.Since.UTC().Format(time.DateTime), o.Error)
}

// indexProgress is implemented by stores that build a search index.
type indexProgress interface {
	IndexProgress(ctx context.Context) (vectorstore.IndexProgress, error)
}

// rateWindow is the window of the status page's throughput.
const rateWindow = 10 * time.Second

// rateMeter turns readings of a running total into a rate per second over
// about the last window.
type rateMeter struct {
	mu      sync.Mutex
	window  time.Duration
	samples []rateSample
}

type rateSample struct {
	at    time.Time
	total int64
}

// observe records total at now and returns the rate since the oldest
// reading within the window (the newest older one, if none is), 0 for the
// first reading.
func (m *rateMeter) observe(now time.Time, total int64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Keep one reading at or beyond the window as the base.
	for len(m.samples) > 1 && now.Sub(m.samples[1].at) >= m.window {
		m.samples = m.samples[1:]
	}
	if len(m.samples) == 0 || now.Sub(m.samples[len(m.samples)-1].at) >= time.Second {
		m.samples = append(m.samples, rateSample{now, total})
	}
	base := m.samples[0]
	dt := now.Sub(base.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return max(0, float64(total-base.total)/dt)
}
