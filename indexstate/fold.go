package indexstate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// foldLockKey serialises folds across processes (an advisory lock).
const foldLockKey = 7_262_021_008

// FoldBatch is how many logged changes one Fold applies at most, so that a
// fold after a million-row import is many short transactions.
const FoldBatch = 20_000

// Fold applies up to batch logged changes (status_changes) to the counts
// Summarize reads, starts counting models it has not seen (a scan of the
// catalog, once per model), and compacts the row-count deltas. It returns how
// many changes it applied; 0 with no error when another process is folding.
// Folding changes no number Summarize reports, only how much it recomputes.
func Fold(ctx context.Context, pool *pgxpool.Pool, batch int) (int, error) {
	if batch <= 0 {
		batch = FoldBatch
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("fold status counts: %w", err)
	}
	defer conn.Release()
	// The lock is taken before the transaction's snapshot, so a fold never
	// works from a snapshot older than the last fold's commit.
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, foldLockKey).Scan(&locked); err != nil {
		return 0, fmt.Errorf("fold status counts: %w", err)
	}
	if !locked {
		return 0, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, foldLockKey) //nolint:errcheck // ends with the session otherwise
	// One snapshot for every statement: counting a new model and dropping
	// the changes it already reflects must see the same rows.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, fmt.Errorf("fold status counts: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	var counted int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM status_counts`).Scan(&counted); err != nil {
		return 0, fmt.Errorf("fold status counts: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT model FROM (
			SELECT model FROM vector_indexes
			UNION SELECT model FROM (SELECT model FROM status_changes ORDER BY seq LIMIT $1) b WHERE model IS NOT NULL
		) m WHERE NOT EXISTS (SELECT 1 FROM status_counts c WHERE c.model = m.model)`, batch)
	if err != nil {
		return 0, fmt.Errorf("find models to count: %w", err)
	}
	models, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("find models to count: %w", err)
	}
	for _, m := range models {
		if _, err := tx.Exec(ctx, `SELECT status_track($1)`, m); err != nil {
			return 0, fmt.Errorf("start counting the index of %s: %w", m, err)
		}
	}
	// A model whose index is gone (an index generation dropped: no
	// registration, no state left) is no longer counted.
	if _, err := tx.Exec(ctx, `WITH gone AS (
			DELETE FROM status_counts c WHERE NOT EXISTS (SELECT 1 FROM vector_indexes v WHERE v.model = c.model)
				AND NOT EXISTS (SELECT 1 FROM index_state s WHERE s.model = c.model)
				AND NOT EXISTS (SELECT 1 FROM index_failures f WHERE f.model = c.model)
			RETURNING model)
		DELETE FROM status_pending o USING gone WHERE o.model = gone.model`); err != nil {
		return 0, fmt.Errorf("stop counting dropped indexes: %w", err)
	}
	var n int
	if counted == 0 && len(models) > 0 {
		// Every counted model was just counted from this snapshot: the
		// changes it shows (a whole seed, say) are in the counts already.
		tag, err := tx.Exec(ctx, `DELETE FROM status_changes`)
		if err != nil {
			return 0, fmt.Errorf("drop status changes already counted: %w", err)
		}
		n = int(tag.RowsAffected())
	} else if err := tx.QueryRow(ctx, foldSQL, batch).Scan(&n); err != nil {
		return 0, fmt.Errorf("fold status changes: %w", err)
	}
	if _, err := tx.Exec(ctx, `WITH d AS (DELETE FROM status_deltas RETURNING model, products, outbox, written)
		INSERT INTO status_deltas (model, products, outbox, written)
		SELECT model, sum(products), sum(outbox), sum(written) FROM d GROUP BY model`); err != nil {
		return 0, fmt.Errorf("compact status deltas: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("fold status counts: %w", err)
	}
	return n, nil
}

// FoldAll folds until no logged change is left, waiting for no one: it
// returns at once when another process holds the fold lock (Fold's 0).
// For tests and benchmarks that need the counts caught up.
func FoldAll(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		n, err := Fold(ctx, pool, FoldBatch)
		if err != nil || n == 0 {
			return err
		}
	}
}

// foldSQL takes the oldest $1 logged changes, recomputes the class of their
// products in every counted model, stores it and moves the counts by the
// difference, in one statement (one snapshot: a change committed later keeps
// its log row for the next fold).
const foldSQL = `
WITH d AS (
	DELETE FROM status_changes WHERE seq IN (SELECT seq FROM status_changes ORDER BY seq LIMIT $1) RETURNING product_id
),
ids AS (SELECT DISTINCT product_id AS id FROM d),
m AS (SELECT model FROM status_counts),
cur AS (SELECT m.model, ids.id, ` + classSQL + `),
old AS (SELECT m.model, o.bits FROM m CROSS JOIN ids ` + pendingSQL + `),
dropped AS (
	DELETE FROM status_pending o USING cur WHERE o.model = cur.model AND o.product_id = cur.id AND cur.bits = 0
),
kept AS (
	INSERT INTO status_pending (model, product_id, bits, since)
	SELECT model, id, bits, CASE WHEN bits & 3 <> 0 THEN updated_at END FROM cur WHERE bits <> 0
	ON CONFLICT (model, product_id) DO UPDATE SET bits = excluded.bits, since = excluded.since
	WHERE (status_pending.bits, status_pending.since) IS DISTINCT FROM (excluded.bits, excluded.since)
),
diff AS (
	SELECT model, sum(sign * (bits & 1 <> 0)::int) AS stale, sum(sign * (bits & 2 <> 0)::int) AS missing,
		sum(sign * (bits & 4 <> 0)::int) AS delete_pending, sum(sign * (bits & 8 <> 0)::int) AS failed
	FROM (SELECT model, bits, 1 AS sign FROM cur UNION ALL SELECT model, bits, -1 FROM old) x GROUP BY model
),
counted AS (
	UPDATE status_counts c SET stale = c.stale + diff.stale, missing = c.missing + diff.missing,
		delete_pending = c.delete_pending + diff.delete_pending, failed = c.failed + diff.failed
	FROM diff WHERE c.model = diff.model
)
SELECT count(*) FROM d`

// RunFolder folds until ctx is done: at once again while a fold finds a
// full batch, after FoldSoon while changes keep coming (a status read
// recomputes the changes not folded yet, so they are kept few), every
// second when idle. Errors are logged and retried; the counts stay exact
// without folds, only status reads grow slower.
func RunFolder(ctx context.Context, db *pgxpool.Pool, log *slog.Logger) error {
	for ctx.Err() == nil {
		n, err := Fold(ctx, db, FoldBatch)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "fold status counts", "err", err)
		}
		wait := time.Second
		switch {
		case err == nil && n == FoldBatch:
			continue
		case err == nil && n > 0:
			wait = FoldSoon
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	return nil
}

// FoldSoon is how soon RunFolder folds again after a fold that found
// changes.
const FoldSoon = 200 * time.Millisecond
