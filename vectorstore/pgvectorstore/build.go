package pgvectorstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/vectorstore"
)

// hnswM is pgvector's default HNSW m (neighbours per node and layer; twice
// that on the bottom layer), which the index is built with.
const hnswM = 16

// BuildOptions tune CreateIndex. The zero value is the production default.
type BuildOptions struct {
	// StallTimeout is how long a build may show no progress in
	// pg_stat_progress_create_index before it is cancelled (default 10
	// minutes). There is no deadline on a build that progresses.
	StallTimeout time.Duration
	// PollInterval is how often the build's progress is read (default 2 s,
	// or a fifth of StallTimeout if that is shorter: a build is judged
	// stalled on several unchanged readings, never on one).
	PollInterval time.Duration
	// MaxMemoryKB caps the build's maintenance_work_mem. Zero takes the
	// server's own maintenance_work_mem as the cap: the operator sets it to
	// what the database machine can give a build (`make db` does it from the
	// machine's memory, Terraform in the RDS parameter group).
	MaxMemoryKB int64
	// Log receives the build's plan, warnings and outcome.
	Log *slog.Logger
	// ConnCheckInterval is how often the server checks, during the build,
	// that the building process is still connected (default 5 s): a build
	// whose process was killed stops within about this long instead of
	// running on for minutes.
	ConnCheckInterval time.Duration
}

func (o BuildOptions) withDefaults() BuildOptions {
	if o.StallTimeout <= 0 {
		o.StallTimeout = 10 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = min(2*time.Second, o.StallTimeout/5)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ConnCheckInterval <= 0 {
		o.ConnCheckInterval = 5 * time.Second
	}
	return o
}

// SetBuildOptions replaces the options of later CreateIndex calls.
func (s *Store) SetBuildOptions(o BuildOptions) {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	s.build = o.withDefaults()
}

func (s *Store) buildOptions() BuildOptions {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	return s.build.withDefaults()
}

// GraphBytes estimates the memory pgvector needs to hold the HNSW graph of
// n vectors of dim dimensions with parameter m while it builds the index:
// the vector itself, about 2m neighbour slots of 16 bytes on the bottom
// layer and some bookkeeping. Measured on pgvector 0.8 (512 dimensions,
// m = 16): 64 MB held 23,714 vectors, 2,830 bytes each; this gives 2,824.
func GraphBytes(n int64, dim, m int) int64 {
	return n * (4*int64(dim) + 8 + 2*int64(m)*16 + 256)
}

// BuildPlan is how CreateIndex sizes one build.
type BuildPlan struct {
	Vectors  int64
	NeedKB   int64 // the graph's estimated size plus a tenth
	MemoryKB int64 // the session's maintenance_work_mem
	Workers  int   // max_parallel_maintenance_workers for the session
	InMemory bool  // the graph fits MemoryKB
	// Expected is a rough duration from figures measured on a 2-core
	// machine; the build's progress gives the real ETA.
	Expected time.Duration
}

// minBuildKB is the least maintenance memory a build gets (Postgres'
// default), even for a table so small that it needs less.
const minBuildKB = 64 << 10

// PlanBuild sizes a build of n vectors of dim dimensions: enough memory for
// the graph when capKB allows it, capKB otherwise, and maxWorkers parallel
// workers.
func PlanBuild(n int64, dim int, capKB int64, maxWorkers int) BuildPlan {
	p := BuildPlan{Vectors: n, Workers: max(0, maxWorkers)}
	p.NeedKB = GraphBytes(n, dim, hnswM)*11/10/1024 + 1
	p.MemoryKB = max(minBuildKB, p.NeedKB)
	if capKB > 0 && p.MemoryKB > capKB {
		p.MemoryKB = max(capKB, 1024) // pgvector's own minimum is 1 MB
	}
	p.InMemory = p.MemoryKB >= p.NeedKB
	p.Expected = expectedBuild(n, dim, p.Workers, p.InMemory, p.MemoryKB, p.NeedKB)
	return p
}

// expectedBuild models the build time: HNSW inserts cost about dim*log2(n)
// each; 30,000 vectors of 512 dimensions took 9 s in memory with two workers
// and the leader on this project's 2-core reference machine. The part of
// the graph that does not fit in memory is inserted on disk pages, which
// pgvector documents as much slower; ten times is what we assume.
func expectedBuild(n int64, dim, workers int, inMemory bool, memKB, needKB int64) time.Duration {
	if n <= 0 {
		return 0
	}
	const secPerUnit = 1.18e-7
	procs := float64(min(workers, 2) + 1)
	sec := float64(n) * float64(dim) * math.Log2(float64(max(n, 2))) * secPerUnit / procs
	if !inMemory && needKB > 0 {
		fit := float64(memKB) / float64(needKB)
		sec = sec*fit + sec*(1-fit)*10
	}
	return time.Duration(sec * float64(time.Second))
}

func (s *Store) buildLockKey() string { return "refarch.vectorstore.build." + s.table }

// CreateIndex builds the HNSW index if it is missing, with CREATE INDEX
// CONCURRENTLY so that writes go on meanwhile. One build runs at a time
// across processes (a session advisory lock); a caller that finds another
// build running waits for it. An INVALID index left by an interrupted build
// is dropped and the build starts again once.
//
// The build is sized by PlanBuild from the vector count and the server's
// settings (a warning with the expected duration when the graph will not
// fit in memory) and has no deadline: it is cancelled only when
// pg_stat_progress_create_index shows no progress for StallTimeout, and the
// error then says in which phase and behind which sessions it stalled.
func (s *Store) CreateIndex(ctx context.Context) error {
	if err := s.createIndex(ctx); err != nil {
		return fmt.Errorf("create HNSW index of %s: %w", s.table, err)
	}
	return nil
}

func (s *Store) createIndex(ctx context.Context) error {
	o := s.buildOptions()
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", classify(err))
	}
	// The session's settings and lock must not outlive the build: a
	// connection that fails anywhere below is closed, not pooled.
	healthy := false
	defer func() {
		if !healthy {
			c.Conn().Close(context.WithoutCancel(ctx))
		}
		c.Release()
	}()
	conn := c.Conn()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, s.buildLockKey()); err != nil {
		return fmt.Errorf("wait for other builds: %w", classify(err))
	}
	exists, valid, err := s.indexValid(ctx, conn)
	if err != nil {
		return err
	}
	// A valid index only needs the category indexes the catalog may have
	// grown since it was built.
	built := exists && valid
	if built {
		s.markReady(true)
	} else if exists {
		// Nobody else holds the lock, so this is no build in flight but
		// the remains of one that was interrupted (a restart, a crash).
		o.Log.WarnContext(ctx, "dropping the invalid search index an interrupted build left; building it again", "index", s.table+"_hnsw")
		if _, err := conn.Exec(ctx, `DROP INDEX IF EXISTS `+s.indexName()); err != nil {
			return fmt.Errorf("drop invalid index: %w", classify(err))
		}
	}
	var n, capKB int64
	var workers int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+s.qtable+`),
			(SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'),
			current_setting('max_parallel_maintenance_workers')::int`).Scan(&n, &capKB, &workers)
	if err != nil {
		return fmt.Errorf("read build settings: %w", classify(err))
	}
	if o.MaxMemoryKB > 0 {
		capKB = o.MaxMemoryKB
	}
	plan := PlanBuild(n, s.dim, capKB, workers)
	attrs := []any{"index", s.table + "_hnsw", "vectors", n, "maintenance_work_mem_mb", plan.MemoryKB / 1024,
		"parallel_workers", plan.Workers, "expected", plan.Expected.Round(time.Second)}
	switch {
	case built:
	case plan.InMemory:
		o.Log.InfoContext(ctx, "build vector search index", attrs...)
	default:
		inMem := expectedBuild(n, s.dim, plan.Workers, true, 0, 0)
		o.Log.WarnContext(ctx, "build vector search index: the HNSW graph does not fit in maintenance_work_mem, so most of it is built on disk; raise maintenance_work_mem on the database to at least need_mb",
			append(attrs, "need_mb", plan.NeedKB/1024+1, "allowed_mb", plan.MemoryKB/1024,
				"expected", plan.Expected.Round(time.Second), "expected_in_memory", inMem.Round(time.Second))...)
	}
	stmts := []string{
		`SET statement_timeout = 0`,
		// A build whose process died (SIGKILL, a lost host) is cancelled
		// within seconds instead of running to its end, holding the build
		// lock, only to leave an INVALID index: the next build starts sooner.
		`SET client_connection_check_interval = '` + strconv.FormatInt(o.ConnCheckInterval.Milliseconds(), 10) + `ms'`,
		`SET maintenance_work_mem = '` + strconv.FormatInt(plan.MemoryKB, 10) + `kB'`,
		`SET max_parallel_maintenance_workers = ` + strconv.Itoa(plan.Workers),
	}
	if plan.Workers > 0 {
		// Without it Postgres plans no workers for a table below
		// min_parallel_table_scan_size, and the vectors live in TOAST, so
		// the main table of even a million vectors looks small.
		stmts = append(stmts, fmt.Sprintf(`ALTER TABLE %s SET (parallel_workers = %d)`, s.qtable, plan.Workers))
	}
	for _, stmt := range stmts {
		// Under the build's stall watch: the ALTER needs the table's
		// lock, as the build does, and a session holding a conflicting
		// one kept it waiting for good.
		if w, err := s.execWatched(ctx, conn, o, stmt); err != nil {
			return fmt.Errorf("prepare build session: %w", s.buildError(w, err))
		}
	}

	if !built {
		start := time.Now()
		if err := s.buildConcurrently(ctx, conn, o, s.indexName(), ""); err != nil {
			return err
		}
		s.markReady(true)
		o.Log.InfoContext(ctx, "vector search index built", "index", s.table+"_hnsw", "vectors", n, "took", time.Since(start).Round(time.Millisecond))
	}
	if err := s.buildCategoryIndexes(ctx, conn, o); err != nil {
		return err
	}
	healthy = s.endBuildSession(ctx, conn)
	return nil
}

// buildConcurrently runs one CREATE INDEX CONCURRENTLY of the HNSW index
// name (quoted), partial when where is not empty, under a stall watch.
func (s *Store) buildConcurrently(ctx context.Context, conn *pgx.Conn, o BuildOptions, name, where string) error {
	sql := `CREATE INDEX CONCURRENTLY IF NOT EXISTS ` + name + ` ON ` + s.qtable + ` USING hnsw (embedding vector_cosine_ops)` +
		fmt.Sprintf(` WITH (ef_construction = %d)`, efConstruction)
	if where != "" {
		sql += ` WHERE ` + where
	}
	w, err := s.execWatched(ctx, conn, o, sql)
	if err != nil {
		// CONCURRENTLY leaves an INVALID index behind; drop it now if
		// that is quick, else the next build does.
		if conn.IsClosed() || ctx.Err() != nil {
			return s.buildError(w, err)
		}
		if _, derr := conn.Exec(ctx, `SET lock_timeout = '1s'`); derr == nil {
			conn.Exec(ctx, `DROP INDEX IF EXISTS `+name) //nolint:errcheck // the next build drops it otherwise
			conn.Exec(ctx, `RESET lock_timeout`)         //nolint:errcheck // the session ends with RESET ALL or is closed
		}
		return s.buildError(w, err)
	}
	return nil
}

// execWatched runs sql on the build's session conn under a stall watch,
// which cancels it when it shows no progress for o.StallTimeout.
func (s *Store) execWatched(ctx context.Context, conn *pgx.Conn, o BuildOptions, sql string) (*stallWatch, error) {
	w := &stallWatch{pool: s.pool, pid: conn.PgConn().PID(), every: o.PollInterval, stall: o.StallTimeout}
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(wctx) })
	_, err := conn.Exec(ctx, sql)
	stopWatch()
	wg.Wait()
	return w, err
}

// Category indexes. A filtered search walks the HNSW graph of the whole
// table and keeps the neighbours that pass the filter (iterative scans).
// The catalog's categories form regions of their own in that graph, so a
// category filter on a large table sends the walk through other categories
// until it runs out of budget (maxScanTuples): at 200,000 products with a
// category and price filter, recall@10 was 0.61 at ef_search 400 and 15
// of 200 answers came back short. A partial HNSW index per large category
// is a graph of that category alone, which the planner uses for the
// filter: 0.98 at the same ef_search, and faster (BenchmarkScaleSearch's
// queries). Each vector of such a category is then inserted into two
// graphs, so only categories with at least categoryIndexMin vectors get
// one, at most categoryIndexMax of them (the largest); the rest are served
// by the main index as before.
const (
	categoryIndexMin = 10_000
	categoryIndexMax = 32
)

// categoryIndexPrefix starts the name of every category index of the table.
func (s *Store) categoryIndexPrefix() string { return s.table + "_hnsw_c" }

// categoryIndexName is the (unquoted) name of category's partial index: a
// hash, since a category is any text.
func (s *Store) categoryIndexName(category string) string {
	sum := sha256.Sum256([]byte(category))
	return s.categoryIndexPrefix() + hex.EncodeToString(sum[:4])
}

// categoryIndexes lists the category indexes of the table, valid or not.
func (s *Store) categoryIndexes(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT c.relname::text, i.indisvalid AND i.indisready FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = to_regclass($1) AND starts_with(c.relname::text, $2)`, s.qtable, s.categoryIndexPrefix())
	if err != nil {
		return nil, fmt.Errorf("list category indexes: %w", classify(err))
	}
	out := map[string]bool{}
	var name string
	var valid bool
	if _, err := pgx.ForEachRow(rows, []any{&name, &valid}, func() error {
		out[name] = valid
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list category indexes: %w", classify(err))
	}
	return out, nil
}

// buildCategoryIndexes gives every large category its partial index (see
// categoryIndexMin), in the build session conn holds: drops those an
// interrupted build left invalid, then builds the missing ones, largest
// category first. An index of a category that shrank stays.
func (s *Store) buildCategoryIndexes(ctx context.Context, conn *pgx.Conn, o BuildOptions) error {
	have, err := s.categoryIndexes(ctx, conn)
	if err != nil {
		return err
	}
	for name, valid := range have {
		if !valid {
			if _, err := conn.Exec(ctx, `DROP INDEX IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
				return fmt.Errorf("drop invalid category index: %w", classify(err))
			}
			delete(have, name)
		}
	}
	rows, err := conn.Query(ctx, `SELECT category, count(*) FROM `+s.qtable+` GROUP BY category
		HAVING count(*) >= $1 ORDER BY count(*) DESC, category LIMIT $2`, s.categoryMin, categoryIndexMax)
	if err != nil {
		return fmt.Errorf("count vectors by category: %w", classify(err))
	}
	type cat struct {
		Name    string
		Vectors int64
	}
	cats, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cat])
	if err != nil {
		return fmt.Errorf("count vectors by category: %w", classify(err))
	}
	for _, c := range cats {
		name := s.categoryIndexName(c.Name)
		if have[name] {
			continue
		}
		start := time.Now()
		if err := s.buildConcurrently(ctx, conn, o, pgx.Identifier{name}.Sanitize(), `category = `+quoteLiteral(c.Name)); err != nil {
			return fmt.Errorf("build search index of category %q: %w", c.Name, err)
		}
		o.Log.InfoContext(ctx, "category search index built", "index", name, "category", c.Name, "vectors", c.Vectors,
			"took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (s *Store) buildError(w *stallWatch, err error) error {
	if why := w.stalled(); why != "" {
		return fmt.Errorf("build stalled, cancelled it: %s", why)
	}
	return classify(err)
}

// endBuildSession resets the build's settings and lock so the connection
// can go back to the pool; false when it could not.
func (s *Store) endBuildSession(ctx context.Context, conn *pgx.Conn) bool {
	_, err := conn.Exec(ctx, `RESET ALL; SELECT pg_advisory_unlock_all()`)
	return err == nil
}

// indexValid reports whether the HNSW index exists and is valid.
func (s *Store) indexValid(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (exists, valid bool, err error) {
	var v *bool
	err = q.QueryRow(ctx, `SELECT (SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = to_regclass($1))`, s.indexName()).Scan(&v)
	if err != nil {
		return false, false, fmt.Errorf("look up HNSW index: %w", classify(err))
	}
	return v != nil, v != nil && *v, nil
}

// stallWatch polls one build's row of pg_stat_progress_create_index and
// cancels the build when nothing in it moved for stall.
type stallWatch struct {
	pool  *pgxpool.Pool
	pid   uint32
	every time.Duration
	stall time.Duration

	mu  sync.Mutex
	why string
}

func (w *stallWatch) stalled() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why
}

func (w *stallWatch) run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	var last string
	lastChange := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var phase, sample string
		var blockers []int32
		// The index's size counts too: once every vector is in the graph,
		// pgvector writes it out to pages without reporting progress.
		err := w.pool.QueryRow(ctx, `SELECT p.phase, concat_ws(',', p.phase, p.blocks_done, p.tuples_done, p.lockers_done,
				p.current_locker_pid, p.partitions_done, pg_relation_size(nullif(p.index_relid, 0))), pg_blocking_pids(p.pid)
			FROM pg_stat_progress_create_index p WHERE p.pid = $1`, int32(w.pid)).Scan(&phase, &sample, &blockers)
		if errors.Is(err, pgx.ErrNoRows) {
			// Between the statements of a concurrent build, before it
			// reports, or a statement that reports nothing (the session's
			// ALTER TABLE). Postgres shows a build only once it holds the
			// table's lock, so a session holding a lock that conflicts
			// (a DDL, a manual VACUUM) keeps it here: name them.
			phase, sample = "not reported yet", ""
			if err := w.pool.QueryRow(ctx, `SELECT pg_blocking_pids($1)`, int32(w.pid)).Scan(&blockers); err == nil && len(blockers) > 0 {
				phase = "waiting for a lock on the table before the build"
			}
		} else if err != nil {
			continue // a failed poll is no evidence either way
		}
		if sample != last {
			last, lastChange = sample, time.Now()
			continue
		}
		if time.Since(lastChange) < w.stall {
			continue
		}
		why := fmt.Sprintf("no progress for %s in phase %q", time.Since(lastChange).Round(time.Second), phase)
		if len(blockers) > 0 {
			why += fmt.Sprintf(", waiting for the transactions of sessions %v to end (see pg_stat_activity)", blockers)
		}
		w.mu.Lock()
		w.why = why
		w.mu.Unlock()
		w.pool.Exec(context.WithoutCancel(ctx), `SELECT pg_cancel_backend($1)`, int32(w.pid)) //nolint:errcheck // the build returns either way
		return
	}
}

// ReadIndexProgress reads the state of the HNSW index of the vector table
// (TableName) without opening the store: ready when the index is valid,
// building while a CREATE INDEX on the table reports progress, missing
// otherwise. Done and Total count vectors loaded into the graph; the ETA
// extrapolates the build's rate so far (0 outside the loading phase).
func ReadIndexProgress(ctx context.Context, pool *pgxpool.Pool, table string) (vectorstore.IndexProgress, error) {
	var (
		valid                             *bool
		phase                             *string
		tuplesDone, blocksDone, blocksTot *int64
		elapsed                           *float64
		reltuples                         float64
	)
	err := pool.QueryRow(ctx, `
		WITH r AS (SELECT to_regclass($1) AS tbl, to_regclass($2) AS idx)
		SELECT (SELECT indisvalid AND indisready FROM pg_index, r WHERE indexrelid = r.idx),
			p.phase, p.tuples_done, p.blocks_done, p.blocks_total,
			extract(epoch FROM now() - a.query_start)::float8,
			coalesce((SELECT reltuples::float8 FROM pg_class, r WHERE oid = r.tbl), 0)
		FROM r LEFT JOIN pg_stat_progress_create_index p ON p.relid = r.tbl
		LEFT JOIN pg_stat_activity a ON a.pid = p.pid
		LIMIT 1`, pgx.Identifier{table}.Sanitize(), pgx.Identifier{table + "_hnsw"}.Sanitize()).
		Scan(&valid, &phase, &tuplesDone, &blocksDone, &blocksTot, &elapsed, &reltuples)
	if err != nil {
		return vectorstore.IndexProgress{}, fmt.Errorf("read search index progress of %s: %w", table, err)
	}
	switch {
	case valid != nil && *valid:
		return vectorstore.IndexProgress{State: vectorstore.IndexReady}, nil
	case phase == nil:
		return vectorstore.IndexProgress{State: vectorstore.IndexMissing}, nil
	}
	p := vectorstore.IndexProgress{State: vectorstore.IndexBuilding, Phase: *phase}
	deref := func(v *int64) int64 {
		if v == nil {
			return 0
		}
		return *v
	}
	done, bd, bt := deref(tuplesDone), deref(blocksDone), deref(blocksTot)
	p.Total = int64(max(reltuples, 0))
	loading := *phase == "building index: loading tuples"
	if loading {
		p.Done = done
		if bd > 0 && bt > 0 {
			// The table scan's block count is exact where reltuples (an
			// estimate, -1 before the first analyze) may not be.
			p.Total = max(p.Total, done*bt/bd)
		}
		p.Total = max(p.Total, done)
		if elapsed != nil && done > 0 && p.Total > done {
			p.ETASeconds = *elapsed * float64(p.Total-done) / float64(done)
		}
	} else if *phase != "initializing" && *phase != "waiting for writers before build" && *phase != "building index" {
		// Past loading (validation of a concurrent build): every vector is in.
		p.Done = p.Total
	}
	return p, nil
}

// IndexProgress reads the state of this store's HNSW index.
func (s *Store) IndexProgress(ctx context.Context) (vectorstore.IndexProgress, error) {
	p, err := ReadIndexProgress(ctx, s.pool, s.table)
	if err == nil {
		s.markReady(p.State == vectorstore.IndexReady)
	}
	return p, err
}

// isQueryCanceled reports a statement cancelled by statement_timeout or
// pg_cancel_backend.
func isQueryCanceled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014"
}
