package search

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/vectormeta"
)

// document must match the expression of products_search_idx
// (migrations/004_search.up.sql) exactly, or the index is not used.
const document = `(setweight(to_tsvector('english'::regconfig, name), 'A') || setweight(to_tsvector('english'::regconfig, description), 'B'))`

// PGFullText ranks products with Postgres full-text search.
type PGFullText struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// NewPGFullText returns a FullText on pool whose queries are cancelled
// after timeout (default 2 s, the vector search's default), so that a slow
// or blocked full-text query cannot hold a hybrid search, and its
// connection, without bound.
func NewPGFullText(pool *pgxpool.Pool, timeout time.Duration) *PGFullText {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &PGFullText{pool: pool, timeout: timeout}
}

// FullText returns up to k product ids matching text, best first, with the
// same filter the vector store applies. websearch_to_tsquery never fails on
// user input, so any text is safe here. The query runs in a transaction
// whose first statement sets its timeout, so that the timeout also bounds
// preparing the query (which waits for a lock on products as running it
// does); a query that outlasts it fails with ErrUnavailable.
func (f *PGFullText) FullText(ctx context.Context, text string, k int, filter vectormeta.Filter) ([]int64, error) {
	var ids []int64
	begin := "BEGIN READ ONLY; SET LOCAL statement_timeout = " + strconv.FormatInt(max(1, f.timeout.Milliseconds()), 10)
	err := pgx.BeginTxFunc(ctx, f.pool, pgx.TxOptions{BeginQuery: begin}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id FROM products, websearch_to_tsquery('english', $1) AS q
			WHERE `+document+` @@ q
			  AND ($3 = '' OR category = $3)
			  AND ($4::numeric IS NULL OR price >= $4::numeric)
			  AND ($5::numeric IS NULL OR price <= $5::numeric)
			ORDER BY ts_rank_cd(`+document+`, q) DESC, id
			LIMIT $2`, text, k, filter.Category, filter.MinPrice, filter.MaxPrice)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: full-text search timed out after %s: %w", ErrUnavailable, f.timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	return ids, nil
}
