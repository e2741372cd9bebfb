// Package pgvectorstore is the embedded vector store: pgvector in the same
// Postgres as the products, one table per model and dimension with an HNSW
// cosine index, and the metadata in plain columns so that search filters run
// inside the index scan instead of after it.
package pgvectorstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// MaxDimension is the largest `vector` pgvector's HNSW index accepts.
const MaxDimension = 2000

// rowsPerStatement bounds one INSERT's arrays (about 2 MB at 512 dimensions)
// so that huge batches do not build one huge message.
const rowsPerStatement = 1000

// Store is a vectorstore.Store on one pgvector table.
type Store struct {
	pool   *pgxpool.Pool
	model  string
	dim    int
	table  string // unquoted
	qtable string // quoted, safe to splice into SQL
	vecOID uint32 // the vector type's id, to tell whether a connection knows it

	// fixedEf, when positive, replaces the sized hnsw.ef_search (SetEfSearch).
	fixedEf atomic.Int64
	// rows estimates the table's live rows, refreshed every sizeTTL, for
	// exactBelow and the ef_search sizing; -1 until first read.
	rows      atomic.Int64
	rowsAt    atomic.Int64 // unix nanoseconds of the estimate
	exactRows int          // see exactBelow; tests change it
	// categoryMin is the vectors a category needs for its own index (see
	// categoryIndexMin); tests change it.
	categoryMin int

	buildMu sync.Mutex
	build   BuildOptions

	searchMu sync.Mutex
	search   SearchOptions
	ready    bool
	readyAt  time.Time // when ready was last read; zero: never
}

// SearchOptions bound a search so that it never becomes a long scan.
type SearchOptions struct {
	// Timeout is the statement timeout of every search (default 2 s); a
	// search that hits it fails with vectorstore.ErrSearchTimeout.
	Timeout time.Duration
	// ExactScanCap is how many vectors a search reads while the HNSW index
	// is missing or building (default 2,000, some 10 ms at 512
	// dimensions): it ranks that part of the table exactly, and callers
	// learn from IndexReady that the answer may be incomplete.
	ExactScanCap int
}

func (o SearchOptions) withDefaults() SearchOptions {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.ExactScanCap <= 0 {
		o.ExactScanCap = 2000
	}
	return o
}

// SetSearchOptions replaces the bounds of later searches.
func (s *Store) SetSearchOptions(o SearchOptions) {
	s.searchMu.Lock()
	defer s.searchMu.Unlock()
	s.search = o.withDefaults()
}

// readyCheckEvery bounds how stale IndexReady may be: it is read from the
// catalog at most this often.
const readyCheckEvery = time.Second

func (s *Store) markReady(ready bool) {
	s.searchMu.Lock()
	defer s.searchMu.Unlock()
	s.ready, s.readyAt = ready, time.Now()
}

// IndexReady reports whether the HNSW index is valid, so that searches use
// it; when it is not, Query ranks only a bounded part of the table. The
// answer is at most a second old. An error reading it counts as not ready.
func (s *Store) IndexReady(ctx context.Context) bool {
	s.searchMu.Lock()
	if !s.readyAt.IsZero() && time.Since(s.readyAt) < readyCheckEvery {
		r := s.ready
		s.searchMu.Unlock()
		return r
	}
	s.searchMu.Unlock()
	_, valid, err := s.indexValid(ctx, s.pool)
	if err != nil {
		return false
	}
	s.markReady(valid)
	return valid
}

func (s *Store) searchOptions() SearchOptions {
	s.searchMu.Lock()
	defer s.searchMu.Unlock()
	return s.search.withDefaults()
}

var _ vectorstore.Store = (*Store)(nil)

// TableName is the table New uses for a model and dimension: the model id
// lowercased with every run of other characters turned into one underscore,
// shortened with a hash suffix when it would not fit a Postgres identifier.
func TableName(model string, dim int) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(model) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	s := strings.Trim(b.String(), "_")
	if s == "" {
		s = "model"
	}
	// Leave room for the index suffixes ("_hnsw" and a few more) within 63 bytes.
	const maxModel = 30
	if len(s) > maxModel {
		sum := sha256.Sum256([]byte(model))
		s = s[:maxModel-9] + "_" + hex.EncodeToString(sum[:4])
	}
	return "vectors_" + s + "_" + strconv.Itoa(dim)
}

// New opens the store for model and dim, creating its table and indexes if
// they are missing. Several processes may call it at once.
func New(ctx context.Context, pool *pgxpool.Pool, model string, dim int) (*Store, error) {
	if model == "" {
		return nil, errors.New("open pgvector store: empty model id")
	}
	if dim < 1 || dim > MaxDimension {
		return nil, fmt.Errorf("open pgvector store: dimension %d outside 1..%d (pgvector's HNSW limit)", dim, MaxDimension)
	}
	table := TableName(model, dim)
	s := &Store{
		pool:        pool,
		model:       model,
		dim:         dim,
		table:       table,
		qtable:      pgx.Identifier{table}.Sanitize(),
		exactRows:   exactBelow,
		categoryMin: categoryIndexMin,
	}
	s.rows.Store(-1)
	if err := ensureExtension(ctx, pool); err != nil {
		return nil, err
	}
	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	err := pool.QueryRow(ctx, `SELECT 'vector'::regtype::oid`).Scan(&s.vecOID)
	if err != nil {
		return nil, fmt.Errorf("look up pgvector type ids: %w", err)
	}
	return s, nil
}

// ensureExtension creates pgvector when allowed; a role without the right to
// create extensions is fine as long as the extension is already there.
func ensureExtension(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS vector`)
	if err == nil {
		return nil
	}
	var exists bool
	if qerr := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')`).Scan(&exists); qerr == nil && exists {
		return nil
	}
	return fmt.Errorf("create extension vector (install pgvector, or have an administrator run CREATE EXTENSION vector): %w", err)
}

// tableComment records which model a table belongs to, so that two model
// ids that sanitize to the same name are caught instead of mixed.
func (s *Store) tableComment() string {
	return fmt.Sprintf("refarch vectors; model=%s; dim=%d", s.model, s.dim)
}

func (s *Store) ensureTable(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialize concurrent creators: CREATE ... IF NOT EXISTS still races on the catalog.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "refarch.vectorstore."+s.table); err != nil {
			return fmt.Errorf("lock vector table %s: %w", s.table, err)
		}
		var comment *string
		var exists bool
		err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, obj_description(to_regclass($1), 'pg_class')`, s.qtable).Scan(&exists, &comment)
		if err != nil {
			return fmt.Errorf("look up vector table %s: %w", s.table, err)
		}
		if exists {
			if comment == nil || *comment != s.tableComment() {
				got := "<none>"
				if comment != nil {
					got = *comment
				}
				return fmt.Errorf("open vector table %s: it belongs to another model (comment %q, want %q)", s.table, got, s.tableComment())
			}
			return nil
		}
		q := s.qtable
		stmts := []string{
			fmt.Sprintf(`CREATE TABLE %s (
				id           text PRIMARY KEY,
				embedding    vector(%d) NOT NULL,
				product_id   bigint NOT NULL,
				version      bigint NOT NULL,
				content_hash text NOT NULL,
				model        text NOT NULL,
				category     text NOT NULL,
				price        double precision NOT NULL,
				updated_at   timestamptz NOT NULL DEFAULT now()
			) WITH (fillfactor = 50)`, q, s.dim),
			s.createIndexSQL(),
			fmt.Sprintf(`COMMENT ON TABLE %s IS %s`, q, quoteLiteral(s.tableComment())),
		}
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create vector table %s: %w", s.table, err)
			}
		}
		return nil
	})
}

func (s *Store) indexName() string { return pgx.Identifier{s.table + "_hnsw"}.Sanitize() }

// efConstruction is the HNSW build's candidate list: 128 rather than
// pgvector's 64, because a graph built with 64 did not reach recall@10 of
// 0.99 on the generated catalog at any ef_search up to 400 (0.979), and
// with 128 it did at 400 (0.993, BenchmarkSearchRecall). It costs build time
// (about twice), not index size; m stays at pgvector's 16.
const efConstruction = 128

func (s *Store) createIndexSQL() string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING hnsw (embedding vector_cosine_ops) WITH (ef_construction = %d)`,
		s.indexName(), s.qtable, efConstruction)
}

// DropIndex removes the HNSW index (and the category indexes, see
// categoryIndexMin) so that a bulk load (the first
// deployment's bootstrap) does not pay an index insert per row; inserting
// into HNSW costs 2-4 ms per 512-dimension vector on two cores, building the
// index afterwards is several times cheaper. Searches stay correct without
// the index but scan the whole table. Call CreateIndex when the load is done.
func (s *Store) DropIndex(ctx context.Context) error {
	cats, err := s.categoryIndexes(ctx, s.pool)
	if err != nil {
		return fmt.Errorf("drop HNSW index of %s: %w", s.table, err)
	}
	for name := range cats {
		if _, err := s.pool.Exec(ctx, `DROP INDEX IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop HNSW index of %s: %w", s.table, classify(err))
		}
	}
	if _, err := s.pool.Exec(ctx, `DROP INDEX IF EXISTS `+s.indexName()); err != nil {
		return fmt.Errorf("drop HNSW index of %s: %w", s.table, classify(err))
	}
	s.markReady(false)
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Table is the unquoted name of the store's table, for status and tests.
func (s *Store) Table() string { return s.table }

// Close does nothing: the pool belongs to the caller.
func (s *Store) Close() error { return nil }

// Name describes the backend and table, e.g. "pgvector:vectors_use_lite_512".
func (s *Store) Name() string { return "pgvector:" + s.table }

// acquire returns a pooled connection that knows pgvector's types
// (pgvector-go's pgx codecs, binary format). The pool belongs to the caller,
// so the types are registered lazily, once per connection, rather than in an
// AfterConnect hook.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, vectorstore.Transient(fmt.Errorf("acquire connection: %w", err))
	}
	if err := s.registerTypes(ctx, c.Conn()); err != nil {
		c.Release()
		return nil, err
	}
	return c, nil
}

// registerTypes registers the pgvector types on c, once per connection.
func (s *Store) registerTypes(ctx context.Context, c *pgx.Conn) error {
	if _, ok := c.TypeMap().TypeForOID(s.vecOID); ok {
		return nil
	}
	if err := pgxvec.RegisterTypes(ctx, c); err != nil {
		return vectorstore.Transient(fmt.Errorf("register pgvector types: %w", err))
	}
	return nil
}

// Upsert writes all vectors in one transaction, one INSERT ... ON CONFLICT per
// 1,000 rows. Within a batch the last vector for an id wins, and rows are
// written in id order so that concurrent upserts cannot deadlock. A row that
// is already stored exactly as given is not rewritten: redeliveries cost no
// HNSW insert. (ON CONFLICT DO UPDATE is never a HOT update here, even when
// the embedding is unchanged; metadata-only changes belong in UpdateMetadata.)
func (s *Store) Upsert(ctx context.Context, vectors []vectorstore.Vector) error {
	if len(vectors) == 0 {
		return nil
	}
	c, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("upsert %d vectors into %s: %w", len(vectors), s.table, err)
	}
	defer c.Release()
	if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return s.upsert(ctx, tx, vectors) }); err != nil {
		return fmt.Errorf("upsert %d vectors into %s: %w", len(vectors), s.table, classify(err))
	}
	return nil
}

// upsert writes vectors in tx; its errors are not yet classified.
func (s *Store) upsert(ctx context.Context, tx pgx.Tx, vectors []vectorstore.Vector) error {
	rows, err := vectorstore.LastPerID(vectors, s.dim)
	if err != nil {
		return err
	}
	slices.SortFunc(rows, func(a, b vectorstore.Vector) int { return cmp.Compare(a.ID, b.ID) })
	sql := `INSERT INTO ` + s.qtable + ` AS t (id, embedding, product_id, version, content_hash, model, category, price)
		SELECT * FROM unnest($1::text[], $2::vector[], $3::int8[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::float8[])
		ON CONFLICT (id) DO UPDATE SET
			embedding = excluded.embedding,
			product_id = excluded.product_id, version = excluded.version, content_hash = excluded.content_hash,
			model = excluded.model, category = excluded.category, price = excluded.price, updated_at = now()
		WHERE t.version <= excluded.version
			AND (t.embedding, t.product_id, t.version, t.content_hash, t.model, t.category, t.price)
			IS DISTINCT FROM (excluded.embedding, excluded.product_id, excluded.version, excluded.content_hash,
				excluded.model, excluded.category, excluded.price)`
	for chunk := range slices.Chunk(rows, rowsPerStatement) {
		n := len(chunk)
		ids, vals := make([]string, n), make([]pgvector.Vector, n)
		pids, vers := make([]int64, n), make([]int64, n)
		hashes, models, cats := make([]string, n), make([]string, n), make([]string, n)
		prices := make([]float64, n)
		for i, v := range chunk {
			ids[i], vals[i] = v.ID, pgvector.NewVector(v.Values)
			pids[i], vers[i] = v.Meta.ProductID, v.Meta.Version
			hashes[i], models[i], cats[i] = v.Meta.ContentHash, v.Meta.Model, v.Meta.Category
			prices[i] = v.Meta.Price
		}
		if _, err := tx.Exec(ctx, sql, ids, vals, pids, vers, hashes, models, cats, prices); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMetadata rewrites the metadata columns only. Like Upsert, it never
// replaces a newer version of a vector with an older one: emu writes only a
// row's current version under its index lock, but a statement whose client
// gave up (a timeout) can still run on the server after that lock is gone
// and a newer version was written. Product versions only grow, across
// deletes and reused ids too, so the check refuses nothing else.
//
// The table has no index on the metadata and leaves free space in each page
// (fillfactor 50; rows are small because the vectors live in TOAST), so these
// are nearly all HOT updates: the HNSW index, whose inserts cost milliseconds
// at 512 dimensions, is not touched. That is what makes a price edit cheap
// (G5).
func (s *Store) UpdateMetadata(ctx context.Context, metas []vectormeta.Metadata) error {
	return s.updateMetadata(ctx, s.pool, metas)
}

// execer runs a statement: the pool, or a transaction (InTx).
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *Store) updateMetadata(ctx context.Context, db execer, metas []vectormeta.Metadata) error {
	if len(metas) == 0 {
		return nil
	}
	rows := vectorstore.LastPerProduct(metas)
	n := len(rows)
	ids, pids, vers := make([]string, n), make([]int64, n), make([]int64, n)
	hashes, models, cats, prices := make([]string, n), make([]string, n), make([]string, n), make([]float64, n)
	for i, m := range rows {
		ids[i], pids[i], vers[i] = vectormeta.VectorID(m.ProductID), m.ProductID, m.Version
		hashes[i], models[i], cats[i], prices[i] = m.ContentHash, m.Model, m.Category, m.Price
	}
	_, err := db.Exec(ctx, `UPDATE `+s.qtable+` AS t SET product_id = u.product_id, version = u.version,
			content_hash = u.content_hash, model = u.model, category = u.category, price = u.price, updated_at = now()
		FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::float8[])
			AS u(id, product_id, version, content_hash, model, category, price)
		WHERE t.id = u.id AND t.version <= u.version
			AND (t.product_id, t.version, t.content_hash, t.model, t.category, t.price)
			IS DISTINCT FROM (u.product_id, u.version, u.content_hash, u.model, u.category, u.price)`, ids, pids, vers, hashes, models, cats, prices)
	if err != nil {
		return fmt.Errorf("update metadata of %d vectors in %s: %w", n, s.table, classify(err))
	}
	return nil
}

// Delete removes vectors by id; unknown ids are ignored.
func (s *Store) Delete(ctx context.Context, ids []string) error { return s.delete(ctx, s.pool, ids) }

func (s *Store) delete(ctx context.Context, db execer, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `DELETE FROM `+s.qtable+` WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("delete %d vectors from %s: %w", len(ids), s.table, classify(err))
	}
	return nil
}

// Pool is the database the store's table is in.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx is the store with its writes (Upsert, UpdateMetadata, Delete) made
// in tx, a transaction on the store's own database: they commit or roll back
// with it. Emu writes the vectors in the transaction that records them in
// index_state, so the two never disagree (a store write whose record was
// lost, see emu's write) and a batch costs one commit, not two. Reads go
// through the pool as before.
func (s *Store) InTx(tx pgx.Tx) vectorstore.Store { return &txStore{Store: s, tx: tx} }

type txStore struct {
	*Store
	tx pgx.Tx
}

func (t *txStore) Upsert(ctx context.Context, vectors []vectorstore.Vector) error {
	if len(vectors) == 0 {
		return nil
	}
	if err := t.registerTypes(ctx, t.tx.Conn()); err != nil { // as acquire does on the pool's connections
		return fmt.Errorf("upsert %d vectors into %s: %w", len(vectors), t.table, err)
	}
	if err := t.upsert(ctx, t.tx, vectors); err != nil {
		return fmt.Errorf("upsert %d vectors into %s: %w", len(vectors), t.table, classify(err))
	}
	return nil
}

func (t *txStore) UpdateMetadata(ctx context.Context, metas []vectormeta.Metadata) error {
	return t.updateMetadata(ctx, t.tx, metas)
}

func (t *txStore) Delete(ctx context.Context, ids []string) error { return t.delete(ctx, t.tx, ids) }

// efSearch sizes the HNSW candidate list for top k in a table of about n
// rows (n < 0: unknown). BenchmarkSearchRecall on 10,000 rows with the use
// model, against an exact scan, at k = 10: pgvector's default of 40 gave
// recall@10 of 0.89 on the seed CSV and 0.74 on the generated catalog;
// with the graph built at ef_construction 128, a list of 400 gave 0.999
// and 0.993 (200 gave 0.995 and 0.975). So 400 up to 10,000 rows, and 100
// more for every tenfold beyond, since larger graphs are deeper
// (extrapolated, not measured); at least 4k for large k, within pgvector's
// limit of 1,000. The list, not k, sets the cost: the UI's k = 20 costs
// what k = 10 does.
func efSearch(k int, n int64) int {
	ef := 400.0
	if n > 10_000 {
		ef += 100 * math.Log10(float64(n)/10_000)
	}
	return min(max(int(ef), 4*k), 1000)
}

// SetEfSearch fixes hnsw.ef_search for every later query; 0 restores the
// default sizing. The recall benchmark sweeps it to choose that sizing.
func (s *Store) SetEfSearch(ef int) { s.fixedEf.Store(int64(ef)) }

// exactBelow is the table size under which Query scans exactly instead of
// searching the HNSW graph. Measured on two shared cores at 512 dimensions
// with the vectors in TOAST (BenchmarkPgvectorExactScan): an exact top-10
// costs about 4-7 ms at 1,000 rows, 10 ms at 2,500, 30 ms at 5,000 and
// 70 ms at 10,000, against 1-5 ms for HNSW. Up to 1,000 rows exact costs
// only a few milliseconds and is right by construction.
const exactBelow = 1000

// sizeTTL is how long a table size estimate is used before it is read
// again (one cheap catalog query).
const sizeTTL = 10 * time.Second

// liveRows estimates the table's live rows from the statistics collector,
// cached for sizeTTL; -1 when unknown (then HNSW is used).
func (s *Store) liveRows(ctx context.Context, c *pgxpool.Conn) int64 {
	if at := s.rowsAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < sizeTTL {
		return s.rows.Load()
	}
	var n int64
	if err := c.QueryRow(ctx, `SELECT coalesce((SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = $1::regclass), -1)`, s.qtable).Scan(&n); err != nil {
		n = -1
	}
	s.rows.Store(n)
	s.rowsAt.Store(time.Now().UnixNano())
	return n
}

// searchEf is the hnsw.ef_search for top k in a table of about n rows, or
// 0 for an exact scan.
func (s *Store) searchEf(k int, n int64) int {
	if ef := s.fixedEf.Load(); ef > 0 {
		return int(ef)
	}
	if n >= 0 && n < int64(s.exactRows) {
		return 0
	}
	return efSearch(k, n)
}

// searchBatch queues the search sql for the top k behind the options it
// needs, so that both go to the server in one round trip: the statements of
// a batch share one implicit transaction, in which set_config(..., true)
// holds for the search and ends with it. The options:
//   - iterative index scans: without them pgvector 0.8 stops after ef_search
//     candidates and a filter returns fewer than k rows. relaxed_order, not
//     strict_order: a strict scan drops every candidate it finds later that
//     is closer than one it already returned, so a filter that passes few
//     rows gets the far ones (recall@10 0.53 against 0.80 at 100,000
//     products, BenchmarkScaleSearch); querySQL sorts the candidates again;
//   - hnsw.max_scan_tuples, how many index tuples a filtered scan may visit
//     before it gives up (pgvector's default is 20,000; see maxScanTuples),
//     and the memory it may take for them: hnsw.scan_mem_multiplier times
//     work_mem (4 MB by default, which ended filtered scans at 100,000
//     products long before the bound: 5 of 200 answers short);
//   - ef_search sized for k and the table (efSearch);
//   - no sequential scan: the vectors live in TOAST, so the planner prices a
//     scan of the small main table as cheap and picks scan+sort over the
//     index, which at 10,000 x 512 dimensions is 25 times slower (52 ms
//     against 2 ms) because every row's vector must be detoasted;
//   - a statement timeout, so that no search runs on unbounded;
//   - no JIT: with sequential scans priced out, a scan without the index
//     (one still building) costs enough to be compiled, which took 650 ms
//     of a 970 ms search at a million vectors and never pays off here;
//   - a plan for the query's own values: a category index (categoryIndexMin)
//     is a partial index, which a generic plan cannot use since it does not
//     know the category; Postgres keeps custom plans when the generic one
//     costs more, and this makes sure of it.
//
// ef 0 asks for the exact scan instead: no index scan, so the planner
// reads every row and sorts by true distance.
func searchBatch(ef, maxScan int, timeout time.Duration, sql string, args []any, read func(pgx.Rows) error) *pgx.Batch {
	b := &pgx.Batch{}
	ms := strconv.FormatInt(max(1, timeout.Milliseconds()), 10)
	if ef <= 0 {
		b.Queue(`SELECT set_config('enable_indexscan', 'off', true),
		set_config('statement_timeout', $1, true), set_config('jit', 'off', true)`, ms)
	} else {
		b.Queue(`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('hnsw.ef_search', $1, true), set_config('hnsw.max_scan_tuples', $2, true),
		set_config('hnsw.scan_mem_multiplier', '16', true),
		set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true),
		set_config('statement_timeout', $3, true), set_config('jit', 'off', true)`,
			strconv.Itoa(ef), strconv.Itoa(max(1, maxScan)), ms)
	}
	b.Queue(sql, args...).Query(read)
	return b
}

// maxScanTuples bounds a filtered search's iterative scan: it stops after
// visiting this many index tuples, even with fewer than k rows that pass
// the filter. It is pgvector's default, 20,000: at 100,000 products it
// found 0.80 of the exact top 10 for a category and price band (about 3%
// of the catalog) and 50,000 found 0.94, but at 1,000,000 products a
// filter that passes 1% of them then visits all 50,000 tuples (105,000
// buffer hits, 5.3 s on the test machine at load 20, far past
// the 2 s statement timeout). An unfiltered search never gets near it.
const maxScanTuples = 20_000

// filteredCandidates is how many rows that pass a filter the iterative
// scan collects, at least, before the best k of them are taken: relaxed
// order returns them only roughly by distance, so a few more than k.
func filteredCandidates(k int) int { return max(k, 4*k) }

// Query runs the filtered search with the options above, so the filter is
// applied inside the index scan. While the HNSW index is missing or
// building it ranks at most ExactScanCap vectors exactly (see IndexReady),
// and a search that outlasts the timeout fails with ErrSearchTimeout.
func (s *Store) Query(ctx context.Context, values []float32, k int, filter vectormeta.Filter) ([]vectorstore.Match, error) {
	if k <= 0 {
		return nil, nil
	}
	if err := vectorstore.CheckValues(values, s.dim); err != nil {
		return nil, fmt.Errorf("query %s: %w", s.table, err)
	}
	o := s.searchOptions()
	exactCap := 0
	if !s.IndexReady(ctx) {
		exactCap = o.ExactScanCap
	}
	sql, args := s.querySQL(values, k, filter, exactCap)

	c, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", s.table, err)
	}
	defer c.Release()
	out := make([]vectorstore.Match, 0, k)
	ef := s.searchEf(k, s.liveRows(ctx, c))
	err = c.SendBatch(ctx, searchBatch(ef, maxScanTuples, o.Timeout, sql, args, func(rows pgx.Rows) error {
		var score float64
		var m vectorstore.Match
		_, err := pgx.ForEachRow(rows, []any{&m.ID, &score, &m.Meta.ProductID, &m.Meta.Version, &m.Meta.ContentHash, &m.Meta.Model, &m.Meta.Category, &m.Meta.Price}, func() error {
			m.Score = float32(score)
			out = append(out, m)
			return nil
		})
		return err
	})).Close()
	if isQueryCanceled(err) {
		return nil, fmt.Errorf("query %s: %w after %s: %w", s.table, vectorstore.ErrSearchTimeout, o.Timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", s.table, classify(err))
	}
	return out, nil
}

// querySQL builds the search with only the filter conditions in use, so the
// planner sees plain predicates it can push into the index scan. The index
// scan collects candidates (k, or filteredCandidates with a filter) and the
// outer query ranks them by their true distance, since a relaxed iterative
// scan returns them only roughly in order. With exactCap > 0 it ranks only
// the first exactCap rows that pass the filter.
func (s *Store) querySQL(values []float32, k int, filter vectormeta.Filter, exactCap int) (string, []any) {
	where, args := filter.SQL("", []any{pgvector.NewVector(values)})
	candidates := k
	if len(where) > 0 {
		candidates = filteredCandidates(k)
	}
	from := s.qtable
	if exactCap > 0 {
		from = `(SELECT * FROM ` + s.qtable
		if len(where) > 0 {
			from += ` WHERE ` + strings.Join(where, " AND ")
		}
		from += fmt.Sprintf(` LIMIT %d) AS capped`, exactCap)
		where = nil
	}
	inner := `SELECT id, embedding <=> $1 AS distance, product_id, version, content_hash, model, category, price FROM ` + from
	if len(where) > 0 {
		inner += ` WHERE ` + strings.Join(where, " AND ")
	}
	// LIMIT is a literal: with a parameter, the generic plan Postgres switches
	// to after a few executions cannot know k and sorts the whole table
	// instead of using the HNSW index.
	inner += fmt.Sprintf(` ORDER BY embedding <=> $1 LIMIT %d`, candidates)
	sql := `SELECT id, 1 - distance, product_id, version, content_hash, model, category, price FROM (` + inner +
		fmt.Sprintf(`) AS candidates ORDER BY distance, id LIMIT %d`, k)
	return sql, args
}

// Fetch returns the stored vectors among ids.
func (s *Store) Fetch(ctx context.Context, ids []string) (map[string]vectorstore.Vector, error) {
	out := make(map[string]vectorstore.Vector, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch %d vectors from %s: %w", len(ids), s.table, err)
	}
	defer c.Release()
	rows, err := c.Query(ctx, `SELECT id, embedding, product_id, version, content_hash, model, category, price
		FROM `+s.qtable+` WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("fetch %d vectors from %s: %w", len(ids), s.table, classify(err))
	}
	var v vectorstore.Vector
	var emb pgvector.Vector
	_, err = pgx.ForEachRow(rows, []any{&v.ID, &emb, &v.Meta.ProductID, &v.Meta.Version, &v.Meta.ContentHash, &v.Meta.Model, &v.Meta.Category, &v.Meta.Price}, func() error {
		v.Values = emb.Slice() // each row decodes into a fresh slice
		out[v.ID] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %d vectors from %s: %w", len(ids), s.table, classify(err))
	}
	return out, nil
}

// Count returns the number of stored vectors.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.qtable).Scan(&n); err != nil {
		return 0, fmt.Errorf("count vectors in %s: %w", s.table, classify(err))
	}
	return n, nil
}

// classify marks the Postgres failures a retry can fix (lost connections,
// serialization failures and deadlocks, resource exhaustion, shutdowns,
// statement and lock timeouts) and those about the store as a whole, which
// heal when an operator acts (the table or extension is missing, privileges
// or credentials are refused, the database is read-only). What remains may
// be about the rows of the call.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "40"),                     // serialization failure, deadlock
			strings.HasPrefix(code, "53"),                     // insufficient resources
			code == "57P01", code == "57P02", code == "57P03", // shutdown, cannot connect now
			code == "57014", code == "55P03", code == "55006": // statement timeout, lock not available, object in use
			return vectorstore.Transient(err)
		case strings.HasPrefix(code, "28"), // invalid authorization
			code == "42501",                                   // insufficient privilege
			code == "42P01", code == "3F000", code == "3D000", // table, schema or database missing
			code == "42704", code == "42883", // vector type or operator missing (extension dropped)
			code == "25006": // read-only transaction (a standby)
			return vectorstore.Unavailable(err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return vectorstore.Transient(err)
	}
	var netErr interface{ Temporary() bool }
	if errors.As(err, &netErr) {
		return vectorstore.Transient(err)
	}
	return err
}

// Drop deletes the store's table, vectors and index (an index generation
// being dropped).
func (s *Store) Drop(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{s.table}.Sanitize()); err != nil {
		return fmt.Errorf("drop vector table %s: %w", s.table, err)
	}
	return nil
}
