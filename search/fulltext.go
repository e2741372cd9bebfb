package search

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/vectormeta"
)

// document must match the expression of products_search_idx
// (migrations/004_search.up.sql) exactly, or the index is not used.
const document = `(setweight(to_tsvector('english'::regconfig, name), 'A') || setweight(to_tsvector('english'::regconfig, description), 'B'))`

// PGFullText ranks products with Postgres full-text search.
type PGFullText struct{ pool *pgxpool.Pool }

// NewPGFullText returns a FullText on pool.
func NewPGFullText(pool *pgxpool.Pool) *PGFullText { return &PGFullText{pool: pool} }

// FullText returns up to k product ids matching text, best first, with the
// same filter the vector store applies. websearch_to_tsquery never fails on
// user input, so any text is safe here.
func (f *PGFullText) FullText(ctx context.Context, text string, k int, filter vectormeta.Filter) ([]int64, error) {
	rows, err := f.pool.Query(ctx, `
		SELECT id FROM products, websearch_to_tsquery('english', $1) AS q
		WHERE `+document+` @@ q
		  AND ($3 = '' OR category = $3)
		  AND ($4::numeric IS NULL OR price >= $4::numeric)
		  AND ($5::numeric IS NULL OR price <= $5::numeric)
		ORDER BY ts_rank_cd(`+document+`, q) DESC, id
		LIMIT $2`, text, k, filter.Category, filter.MinPrice, filter.MaxPrice)
	if err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	return ids, nil
}
