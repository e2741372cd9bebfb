package app

import (
	"context"
	"fmt"
	"strings"
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
func serveDeps(pool *pgxpool.Pool, sh *shared) serve.Deps {
	model, storeName := sh.model, sh.store.Name()
	products := catalog.NewStore(pool)
	return serve.Deps{
		Catalog: products,
		Search: search.New(sh.emb, sh.store, products, search.NewPGFullText(pool)).
			WithRecent(recentvectors.NewScanner(pool, model, recentvectors.Options{})),
		SyncStates: func(ctx context.Context, ids []int64) (map[int64]string, error) {
			return status.ProductStates(ctx, pool, model, ids)
		},
		Status: func(ctx context.Context) (serve.Status, error) {
			st, err := status.Get(ctx, pool, sh.q, model)
			if err != nil {
				return serve.Status{}, err
			}
			recent, err := indexstate.New(pool, model).IndexedSince(ctx, rateWindow)
			if err != nil {
				return serve.Status{}, err
			}
			out := serve.Status{
				Products: st.Products, Indexed: st.Indexed, Stale: st.Stale, Missing: st.Missing, Failed: st.Failed,
				Outbox: st.Outbox, QueueVisible: int64(st.Queue.Visible), QueueInFlight: int64(st.Queue.InFlight),
				QueueDead: int64(st.Queue.Dead), LagSeconds: st.OldestUnindexedAgeSeconds,
				IndexRate: float64(recent) / rateWindow.Seconds(), Model: model, VectorStore: storeName,
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
