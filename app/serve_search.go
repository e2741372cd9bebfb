package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/roles/serve"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// openSearch builds serve's search service: the same embedder emu indexes
// with, and the vector store for that model.
func openSearch(ctx context.Context, cfg Config, pool *pgxpool.Pool) (*search.Service, embedding.Embedder, string, error) {
	emb, err := embedding.Open(ctx, embedding.Options{Name: cfg.Embedder, ModelDir: cfg.ModelDir,
		OllamaHost: cfg.OllamaHost, OllamaModel: cfg.OllamaModel, HashDim: cfg.HashDim})
	if err != nil {
		return nil, nil, "", err
	}
	if cfg.VectorStore != "pgvector" {
		return nil, nil, "", fmt.Errorf("serve search: vector store %q is not wired into serve yet", cfg.VectorStore)
	}
	store, err := pgvectorstore.New(ctx, pool, emb.Model(), emb.Dimension())
	if err != nil {
		return nil, nil, "", err
	}
	cat := catalog.NewStore(pool)
	return search.New(emb, store, cat, search.NewPGFullText(pool)), emb, store.Name(), nil
}

// productStates answers the UI's sync badges from index_state and the dead
// letters: indexed when the index holds the row's current version, failed
// when its change was dead-lettered, indexing otherwise.
func productStates(pool *pgxpool.Pool, model string) serve.SyncStates {
	return func(ctx context.Context, ids []int64) (map[int64]string, error) {
		rows, err := pool.Query(ctx, `
			SELECT p.id,
			       CASE WHEN s.version >= p.version AND NOT s.deleted THEN 'indexed'
			            WHEN EXISTS (SELECT 1 FROM queue_dead d WHERE d.group_id = p.id::text) THEN 'failed'
			            ELSE 'indexing' END
			FROM products p
			LEFT JOIN index_state s ON s.model = $2 AND s.product_id = p.id
			WHERE p.id = ANY($1)`, ids, model)
		if err != nil {
			return nil, fmt.Errorf("read sync states of %d products: %w", len(ids), err)
		}
		defer rows.Close()
		out := make(map[int64]string, len(ids))
		for rows.Next() {
			var id int64
			var st string
			if err := rows.Scan(&id, &st); err != nil {
				return nil, fmt.Errorf("read sync states: %w", err)
			}
			out[id] = st
		}
		return out, rows.Err()
	}
}
