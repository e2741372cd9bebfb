package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/roles/serve"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/status"
)

// serveExtras are the dependencies of serve beyond the catalog: search with
// the same embedder and vector store emu writes with, the per-row sync
// badges and the status page.
type serveExtras struct {
	search     *search.Service
	syncStates serve.SyncStates
	status     serve.StatusFunc
	close      func()
}

func openServeExtras(ctx context.Context, cfg Config, pool *pgxpool.Pool, log *slog.Logger) (serveExtras, error) {
	emb, err := OpenEmbedder(ctx, cfg)
	if err != nil {
		return serveExtras{}, err
	}
	store, err := OpenVectors(ctx, cfg, pool, emb)
	if err != nil {
		return serveExtras{}, err
	}
	q, closeQueue, err := OpenQueue(ctx, cfg, pool, log)
	if err != nil {
		return serveExtras{}, err
	}
	model, storeName := emb.Model(), store.Name()
	return serveExtras{
		search: search.New(emb, store, catalog.NewStore(pool), search.NewPGFullText(pool)),
		syncStates: func(ctx context.Context, ids []int64) (map[int64]string, error) {
			return status.ProductStates(ctx, pool, model, ids)
		},
		status: func(ctx context.Context) (serve.Status, error) {
			st, err := status.Get(ctx, pool, q, model)
			if err != nil {
				return serve.Status{}, err
			}
			var recent int64
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM index_state
				WHERE model = $1 AND indexed_at > now() - make_interval(secs => $2)`, model, rateWindow).Scan(&recent); err != nil {
				return serve.Status{}, fmt.Errorf("read index throughput: %w", err)
			}
			return serve.Status{
				Products: st.Products, Indexed: st.Indexed, Stale: st.Stale, Missing: st.Missing, Failed: st.Failed,
				Outbox: st.Outbox, QueueVisible: int64(st.Queue.Visible), QueueInFlight: int64(st.Queue.InFlight),
				QueueDead: int64(st.Queue.Dead), LagSeconds: st.OldestUnindexedAgeSeconds,
				IndexRate: float64(recent) / rateWindow, Model: model, VectorStore: storeName,
			}, nil
		},
		close: closeQueue,
	}, nil
}

// rateWindow is the window, in seconds, of the status page's throughput.
const rateWindow = 10.0
