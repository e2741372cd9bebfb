// Package indexstate owns the tables that record what a vector index holds:
// index_state (the version and content hash indexed per product and model),
// index_failures (products emu gave up on) and vector_indexes (which indexes
// exist). Every statement that touches them lives here, as catalog holds the
// products table's; the roles call these methods inside their own
// transactions where a statement must share one (emu's lock-check-write).
package indexstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/product"
)

// DB runs statements: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store reads and writes the index state of one model.
type Store struct {
	db    DB
	model string
}

// New returns the index state of model through db. Pass a pgx.Tx to run the
// statements inside a transaction.
func New(db DB, model string) *Store { return &Store{db: db, model: model} }

// Model is the embedding model (and so the index) this state belongs to.
func (s *Store) Model() string { return s.model }

// State is what the index holds for one product. Version 0 is a placeholder
// row that only exists to be locked.
type State struct {
	Version int64
	Hash    string
	Deleted bool
}

// Get returns the state of each product among ids that has one.
func (s *Store) Get(ctx context.Context, ids []int64) (map[int64]State, error) {
	rows, err := s.db.Query(ctx, `SELECT product_id, version, content_hash, deleted FROM index_state
		WHERE model = $1 AND product_id = ANY($2)`, s.model, ids)
	if err != nil {
		return nil, fmt.Errorf("read index state of %d products: %w", len(ids), err)
	}
	return scanStates(rows, len(ids))
}

// Lock locks the state rows of ids for the rest of the transaction and
// returns them as they are now. Placeholder rows (version 0) are inserted for
// products never indexed so that they can be locked too; ids are locked in
// order so that overlapping batches cannot deadlock. Run it in a transaction.
func (s *Store) Lock(ctx context.Context, ids []int64) (map[int64]State, error) {
	rows, err := s.db.Query(ctx, `INSERT INTO index_state (model, product_id, version, content_hash, changed_at)
		SELECT $1, id, 0, '', now() FROM unnest($2::bigint[]) AS id ORDER BY id
		ON CONFLICT (model, product_id) DO UPDATE SET version = index_state.version
		RETURNING product_id, version, content_hash, deleted`, s.model, ids)
	if err != nil {
		return nil, fmt.Errorf("lock index state: %w", err)
	}
	st, err := scanStates(rows, len(ids))
	if err != nil {
		return nil, fmt.Errorf("lock index state: %w", err)
	}
	return st, nil
}

// DropPlaceholders removes the version-0 rows Lock inserted for ids.
func (s *Store) DropPlaceholders(ctx context.Context, ids []int64) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM index_state WHERE model = $1 AND product_id = ANY($2) AND version = 0`, s.model, ids); err != nil {
		return fmt.Errorf("drop index state placeholders: %w", err)
	}
	return nil
}

// Record is what the index now holds for a product.
type Record struct {
	ProductID int64
	Version   int64
	Hash      string
	Deleted   bool
	// ChangedAt is when the change the index now reflects was made.
	ChangedAt time.Time
}

// Write records recs, never moving a product's state back to an older
// version, and clears the products' failures, in one statement.
func (s *Store) Write(ctx context.Context, recs []Record) error {
	n := len(recs)
	if n == 0 {
		return nil
	}
	pids, vers, hashes, deleted := make([]int64, n), make([]int64, n), make([]string, n), make([]bool, n)
	changed := make([]time.Time, n)
	for i, r := range recs {
		pids[i], vers[i], hashes[i], deleted[i], changed[i] = r.ProductID, r.Version, r.Hash, r.Deleted, r.ChangedAt
	}
	if _, err := s.db.Exec(ctx, `WITH cleared AS (DELETE FROM index_failures WHERE model = $1 AND product_id = ANY($2))
		UPDATE index_state s SET version = u.version, content_hash = u.hash,
			deleted = u.deleted, changed_at = u.changed_at, indexed_at = clock_timestamp()
		FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bool[], $6::timestamptz[])
			AS u(product_id, version, hash, deleted, changed_at)
		WHERE s.model = $1 AND s.product_id = u.product_id AND s.version < u.version`,
		s.model, pids, vers, hashes, deleted, changed); err != nil {
		return fmt.Errorf("record index state of %d products: %w", n, err)
	}
	return nil
}

// Reset forgets the indexed version and hash of ids, so that emu re-embeds
// them instead of trusting the record (reconcile's repair).
func (s *Store) Reset(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.db.Exec(ctx, `UPDATE index_state SET version = 0, content_hash = '' WHERE model = $1 AND product_id = ANY($2)`, s.model, ids); err != nil {
		return fmt.Errorf("reset index state of %d products: %w", len(ids), err)
	}
	return nil
}

// Orphan is a product the index holds that no longer exists in the table.
type Orphan struct {
	ProductID int64
	Version   int64
}

// Orphans lists the products with ids in lo..hi that have a state row not
// marked deleted but are no longer in the table, by id. Version 0 rows are
// included: a reset product's vector may still be in the store.
func (s *Store) Orphans(ctx context.Context, lo, hi int64) ([]Orphan, error) {
	rows, err := s.db.Query(ctx, `SELECT s.product_id, s.version FROM index_state s
		WHERE s.model = $1 AND NOT s.deleted AND s.product_id BETWEEN $2 AND $3
		AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = s.product_id) ORDER BY s.product_id`, s.model, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("find deleted products still indexed in %d..%d: %w", lo, hi, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Orphan, error) {
		var o Orphan
		err := r.Scan(&o.ProductID, &o.Version)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read deleted products still indexed: %w", err)
	}
	return out, nil
}

// Stale is a product whose current version the index does not hold.
type Stale struct {
	ProductID, Version int64
}

// Behind returns the products with ids in lo..hi whose current version the
// index does not hold, by id, leaving out those whose change is still in
// the outbox: the drain sends it on the live lane, and a catch-up copy
// would only enqueue the product twice. It reads ids and versions only: a
// message names the product, and emu reads the row itself.
func (s *Store) Behind(ctx context.Context, lo, hi int64) ([]Stale, error) {
	rows, err := s.db.Query(ctx, `SELECT p.id, p.version FROM products p
		WHERE p.id BETWEEN $2 AND $3 AND NOT EXISTS (SELECT 1 FROM index_state s
			WHERE s.model = $1 AND s.product_id = p.id AND NOT s.deleted AND s.version >= p.version)
		  AND NOT EXISTS (SELECT 1 FROM sync_outbox o WHERE o.product_id = p.id AND o.version >= p.version)
		ORDER BY p.id`, s.model, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("find products behind the index in %d..%d: %w", lo, hi, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stale, error) {
		var st Stale
		err := r.Scan(&st.ProductID, &st.Version)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("read products behind the index: %w", err)
	}
	return out, nil
}

// Chunk is an inclusive range of product ids.
type Chunk struct{ Lo, Hi int64 }

// Chunks tiles every known product id (in the table, or indexed and not
// deleted) into consecutive ranges of at most size ids, from 1 up to the
// largest known id.
func (s *Store) Chunks(ctx context.Context, size int) ([]Chunk, error) {
	rows, err := s.db.Query(ctx, `SELECT coalesce(lag(hi) OVER (ORDER BY hi), 0) + 1, hi FROM (
			SELECT max(id) AS hi FROM (
				SELECT id, (row_number() OVER (ORDER BY id) - 1) / $2 AS chunk FROM (
					SELECT id FROM products
					UNION SELECT product_id FROM index_state WHERE model = $1 AND NOT deleted
				) ids
			) numbered GROUP BY chunk
		) chunks ORDER BY hi`, s.model, size)
	if err != nil {
		return nil, fmt.Errorf("split known product ids into chunks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		err := r.Scan(&c.Lo, &c.Hi)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("split known product ids into chunks: %w", err)
	}
	return out, nil
}

// Register records that the vector index of the model exists in store (the
// store was opened, which creates it).
func (s *Store) Register(ctx context.Context, store string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO vector_indexes (model, store) VALUES ($1, $2)
		ON CONFLICT (model) DO UPDATE SET store = excluded.store`, s.model, store)
	if err != nil {
		return fmt.Errorf("register vector index %s: %w", store, err)
	}
	return nil
}

// ErrNoIndex is returned by Registered when no emu has created the index yet.
var ErrNoIndex = errors.New("vector index not created yet")

// Registered returns ErrNoIndex (wrapped) until Register has run for the model.
func (s *Store) Registered(ctx context.Context) error {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vector_indexes WHERE model = $1)`, s.model).Scan(&ok); err != nil {
		return fmt.Errorf("check vector index of %s: %w", s.model, err)
	}
	if !ok {
		return fmt.Errorf("vector index of model %s: %w (emu creates it on start)", s.model, ErrNoIndex)
	}
	return nil
}

// Failure is a product emu gave up on.
type Failure struct {
	ProductID    int64     `json:"product_id"`
	Version      int64     `json:"version"`
	Error        string    `json:"error"`
	ReceiveCount int       `json:"receive_count"`
	FailedAt     time.Time `json:"failed_at"`
}

// Fail records that emu gave up on a product at version; a later Write of the
// product clears it.
func (s *Store) Fail(ctx context.Context, f Failure) error {
	_, err := s.db.Exec(ctx, `INSERT INTO index_failures (model, product_id, version, error, receive_count)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, product_id) DO UPDATE SET version = excluded.version,
			error = excluded.error, receive_count = excluded.receive_count, failed_at = now()`,
		s.model, f.ProductID, f.Version, f.Error, f.ReceiveCount)
	if err != nil {
		return fmt.Errorf("record index failure of product %d: %w", f.ProductID, err)
	}
	return nil
}

// ClearFailures forgets the failures of ids (indexed or found up to date
// after all).
func (s *Store) ClearFailures(ctx context.Context, ids []int64) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM index_failures WHERE model = $1 AND product_id = ANY($2)`, s.model, ids); err != nil {
		return fmt.Errorf("clear index failures of %d products: %w", len(ids), err)
	}
	return nil
}

// Failures lists the products emu gave up on, newest first.
func (s *Store) Failures(ctx context.Context, limit int) ([]Failure, error) {
	rows, err := s.db.Query(ctx, `SELECT product_id, version, error, receive_count, failed_at FROM index_failures
		WHERE model = $1 ORDER BY failed_at DESC LIMIT $2`, s.model, limit)
	if err != nil {
		return nil, fmt.Errorf("list index failures: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failure, error) {
		var f Failure
		err := r.Scan(&f.ProductID, &f.Version, &f.Error, &f.ReceiveCount, &f.FailedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("list index failures: %w", err)
	}
	return out, nil
}

func scanStates(rows pgx.Rows, n int) (map[int64]State, error) {
	defer rows.Close()
	out := make(map[int64]State, n)
	for rows.Next() {
		var id int64
		var s State
		if err := rows.Scan(&id, &s.Version, &s.Hash, &s.Deleted); err != nil {
			return nil, fmt.Errorf("read index state: %w", err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read index state: %w", err)
	}
	return out, nil
}

// Row is a product beside the index's state of it.
type Row struct {
	Product product.Product
	// State is the product's state; HasState is false when it has none.
	State    State
	HasState bool
}

// Page returns up to limit products with ids above after, by id, each with
// its state.
func (s *Store) Page(ctx context.Context, after int64, limit int) ([]Row, error) {
	rows, err := s.db.Query(ctx, `SELECT `+catalog.Columns+`,
			s.sid IS NOT NULL, coalesce(s.sversion, 0), coalesce(s.shash, ''), coalesce(s.sdeleted, false)
		FROM products p LEFT JOIN (SELECT product_id AS sid, version AS sversion, content_hash AS shash, deleted AS sdeleted
			FROM index_state WHERE model = $1) s ON s.sid = p.id
		WHERE p.id > $2 ORDER BY p.id LIMIT $3`, s.model, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read products after %d: %w", after, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var x Row
		var err error
		x.Product, err = catalog.Scan(r, &x.HasState, &x.State.Version, &x.State.Hash, &x.State.Deleted)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read products after %d: %w", after, err)
	}
	return out, nil
}

// DeleteAll forgets everything recorded about the model's index: its
// state, failures, outages and registration (an index
// generation being dropped, once its vectors are gone).
func (s *Store) DeleteAll(ctx context.Context) error {
	for _, table := range []string{"index_state", "index_failures", "index_outages", "vector_indexes", "status_counts", "status_pending", "status_changes", "status_deltas"} {
		if _, err := s.db.Exec(ctx, `DELETE FROM `+table+` WHERE model = $1`, s.model); err != nil {
			return fmt.Errorf("forget %s of %s: %w", table, s.model, err)
		}
	}
	return nil
}

// Lacking counts the products last changed before changedBefore whose
// current version the index of other holds and this one does not: what a
// new generation's backfill has still to bring, compared with the active
// generation. Rows changed since (the generation's creation) reach it as
// live changes, like every other generation, so in-flight changes never
// hold a promotion back.
func (s *Store) Lacking(ctx context.Context, other string, changedBefore time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM products p
		JOIN index_state o ON o.model = $2 AND o.product_id = p.id AND NOT o.deleted AND o.version >= p.version
		WHERE p.updated_at < $3 AND NOT EXISTS (SELECT 1 FROM index_state s WHERE s.model = $1 AND s.product_id = p.id
			AND NOT s.deleted AND s.version >= p.version)`, s.model, other, changedBefore).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the rows %s lacks compared with %s: %w", s.model, other, err)
	}
	return n, nil
}
