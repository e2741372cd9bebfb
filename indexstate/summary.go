package indexstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Summary compares the table with the index of the model.
type Summary struct {
	Products      int64
	Indexed       int64
	Stale         int64
	Missing       int64
	DeletePending int64
	Failed        int64
	// Outbox is the number of changes not yet sent to the queue.
	Outbox int64
	// OldestUnindexedAgeSeconds is the age of the oldest change the index
	// does not reflect yet (0 when in sync).
	OldestUnindexedAgeSeconds float64
}

// ErrCounting is returned by Summarize for a model registered since the
// last fold, in a catalog too large to count at every read (over
// ExhaustiveMax products): the next fold (serve and emu run one every
// second) starts its counts with one scan of the catalog, some seconds at a
// million products.
var ErrCounting = errors.New("counting the catalog for the status of a new index")

// ExhaustiveMax is the largest catalog Summarize counts exhaustively when
// a model's counts are not kept yet (about 0.1 s at this size).
var ExhaustiveMax int64 = 50_000

// Summarize computes the Summary in one statement, so that its counts agree.
// Its cost does not grow with the catalog: it reads the counts kept by the
// migrations' triggers and Fold (see migrations/009_status_counts.up.sql)
// and recomputes only the products changed since the last fold. A model
// whose counts are not kept yet (no fold has seen it) is counted
// exhaustively, as reconcile does, unless it is registered and the catalog
// holds over ExhaustiveMax products: then it returns ErrCounting at once,
// where a count at every read would pile up scans of the catalog while the
// fold counts.
func (s *Store) Summarize(ctx context.Context) (Summary, error) {
	var r Summary
	err := s.db.QueryRow(ctx, summarySQL, s.model).Scan(&r.Products, &r.Indexed, &r.Stale, &r.Missing,
		&r.DeletePending, &r.Failed, &r.Outbox, &r.OldestUnindexedAgeSeconds)
	if errors.Is(err, pgx.ErrNoRows) {
		var products int64
		var registered bool
		if err := s.db.QueryRow(ctx, `SELECT (SELECT coalesce(sum(products), 0) FROM status_deltas),
			EXISTS (SELECT 1 FROM vector_indexes WHERE model = $1)`, s.model).Scan(&products, &registered); err != nil {
			return Summary{}, fmt.Errorf("compute index status: %w", err)
		}
		if registered && products > ExhaustiveMax {
			return Summary{}, fmt.Errorf("index of %s (%d products): %w", s.model, products, ErrCounting)
		}
		return s.SummarizeExhaustive(ctx)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("compute index status: %w", err)
	}
	r.OldestUnindexedAgeSeconds = max(r.OldestUnindexedAgeSeconds, 0)
	return r, nil
}

// classSQL is the class of product ids.id in the index of model m.model
// (status_bits), with its updated_at: the select list and FROM clause that
// summarySQL and foldSQL share (their m is the models counted, ids the
// changed products). Each table is probed by its primary key once
// per changed product (LATERAL ... LIMIT 1 cannot be turned into a join):
// the planner's statistics of these fast-churning tables lag far behind
// (status_changes can hold a thousand rows while its statistics say a
// million, or the reverse), and with a join to choose it picked hash joins
// over a scan of the whole index_state, O(catalog): 0.4-2.4 s at 200,000
// products during a bootstrap, against 10-20 ms probed.
const classSQL = `status_bits(p.id IS NOT NULL, p.version, s.product_id IS NOT NULL, s.version, s.deleted,
	f.product_id IS NOT NULL) AS bits, p.updated_at
	FROM m CROSS JOIN ids
	LEFT JOIN LATERAL (SELECT id, version, updated_at FROM products WHERE id = ids.id LIMIT 1) p ON true
	LEFT JOIN LATERAL (SELECT product_id, version, deleted FROM index_state
		WHERE model = m.model AND product_id = ids.id LIMIT 1) s ON true
	LEFT JOIN LATERAL (SELECT product_id FROM index_failures
		WHERE model = m.model AND product_id = ids.id LIMIT 1) f ON true`

// pendingSQL is the class the counts of model m.model hold for product
// ids.id, probed the same way.
const pendingSQL = `CROSS JOIN LATERAL (SELECT bits FROM status_pending
		WHERE model = m.model AND product_id = ids.id LIMIT 1) o`

// summarySQL reads the counts of model $1 and corrects them by the products
// changed since the last fold (status_changes): their class now less the
// class the counts hold for them. One statement, one snapshot: exact.
const summarySQL = `
WITH m AS (SELECT $1::text AS model),
ids AS (SELECT DISTINCT product_id AS id FROM status_changes),
cur AS (SELECT ` + classSQL + `),
diff AS (
	SELECT coalesce(sum(sign * (bits & 1 <> 0)::int), 0) AS stale, coalesce(sum(sign * (bits & 2 <> 0)::int), 0) AS missing,
		coalesce(sum(sign * (bits & 4 <> 0)::int), 0) AS delete_pending, coalesce(sum(sign * (bits & 8 <> 0)::int), 0) AS failed
	FROM (SELECT bits, 1 AS sign FROM cur
		UNION ALL SELECT o.bits, -1 FROM m CROSS JOIN ids ` + pendingSQL + `) x
),
tot AS (SELECT coalesce(sum(products), 0) AS products, coalesce(sum(outbox), 0) AS outbox FROM status_deltas)
SELECT tot.products, tot.products - (c.stale + diff.stale) - (c.missing + diff.missing),
	c.stale + diff.stale, c.missing + diff.missing, c.delete_pending + diff.delete_pending, c.failed + diff.failed, tot.outbox,
	coalesce(extract(epoch FROM now() - least(
		(SELECT o.since FROM status_pending o WHERE o.model = $1 AND o.since IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM status_changes l WHERE l.product_id = o.product_id) ORDER BY o.since LIMIT 1),
		(SELECT min(updated_at) FROM cur WHERE bits & 3 <> 0),
		(SELECT changed_at FROM sync_outbox ORDER BY id LIMIT 1))), 0)::float8
FROM status_counts c, diff, tot WHERE c.model = $1`

// SummarizeExhaustive computes the Summary from the tables themselves: a
// scan of the catalog and of the index state. The counters' tests compare
// with it.
func (s *Store) SummarizeExhaustive(ctx context.Context) (Summary, error) {
	var r Summary
	err := s.db.QueryRow(ctx, `
		WITH rows AS (
			SELECT p.updated_at,
				CASE WHEN s.product_id IS NULL OR s.deleted OR s.version = 0 THEN 'missing'
				     WHEN s.version < p.version THEN 'stale' ELSE 'indexed' END AS st
			FROM products p LEFT JOIN index_state s ON s.model = $1 AND s.product_id = p.id
		)
		SELECT
			(SELECT count(*) FROM rows),
			(SELECT count(*) FROM rows WHERE st = 'indexed'),
			(SELECT count(*) FROM rows WHERE st = 'stale'),
			(SELECT count(*) FROM rows WHERE st = 'missing'),
			(SELECT count(*) FROM index_state s WHERE s.model = $1 AND NOT s.deleted AND s.version > 0
				AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = s.product_id)),
			(SELECT count(*) FROM index_failures f LEFT JOIN products p ON p.id = f.product_id
				LEFT JOIN index_state s ON s.model = f.model AND s.product_id = f.product_id
				WHERE f.model = $1 AND (s.product_id IS NULL OR (p.id IS NULL AND NOT s.deleted) OR s.version < p.version)),
			(SELECT count(*) FROM sync_outbox),
			coalesce(extract(epoch FROM now() - least(
				(SELECT min(updated_at) FROM rows WHERE st <> 'indexed'),
				(SELECT min(changed_at) FROM sync_outbox))), 0)::float8`,
		s.model).Scan(&r.Products, &r.Indexed, &r.Stale, &r.Missing, &r.DeletePending, &r.Failed, &r.Outbox, &r.OldestUnindexedAgeSeconds)
	if err != nil {
		return Summary{}, fmt.Errorf("count index status exhaustively: %w", err)
	}
	r.OldestUnindexedAgeSeconds = max(r.OldestUnindexedAgeSeconds, 0)
	return r, nil
}

// IndexWrites is how many times the index state of the model moved to a
// newer version, ever (since the counts were kept): the difference of two
// readings over their interval is the indexing rate.
func (s *Store) IndexWrites(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT coalesce(sum(written), 0) FROM status_deltas WHERE model = $1`, s.model).Scan(&n); err != nil {
		return 0, fmt.Errorf("read index writes: %w", err)
	}
	return n, nil
}

// Unwritten estimates, cheaply, how many products the index of the model
// still lacks: the products in the table less the writes the index state
// has recorded, or 0. It is exact for an index that is being filled (a
// bootstrap, a new generation) and only a bound otherwise (an update and a
// deleted product's writes count too); emu uses it to tell a bulk load,
// whose messages may be ranges of many products, from a trickle.
func (s *Store) Unwritten(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT greatest(0, (SELECT coalesce(sum(products), 0) FROM status_deltas)
		- (SELECT coalesce(sum(written), 0) FROM status_deltas WHERE model = $1))`, s.model).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the products the index lacks: %w", err)
	}
	return n, nil
}

// Product sync states, for the UI's badges.
const (
	StateIndexed  = "indexed"
	StateIndexing = "indexing"
	StateFailed   = "failed"
)

// ProductStates returns the sync state of each existing product among ids:
// "indexed" when the index holds its current version, "failed" when emu gave
// up on it (or, with the Postgres queue, a message of it, or a catch-up's
// range holding it, is dead-lettered) and "indexing" otherwise. Unknown ids
// are left out.
func (s *Store) ProductStates(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `
		SELECT p.id,
			CASE WHEN s.version >= p.version AND NOT s.deleted THEN 'indexed'
			     WHEN EXISTS (SELECT 1 FROM index_failures f WHERE f.model = $1 AND f.product_id = p.id)
			       OR EXISTS (SELECT 1 FROM queue_dead d WHERE d.group_id = p.id::text)
			       -- a range's group is range-<lo>-<hi> (queuemsg.RangeGroup)
			       OR EXISTS (SELECT 1 FROM queue_dead d WHERE d.group_id LIKE 'range-%'
			           AND p.id BETWEEN split_part(d.group_id, '-', 2)::bigint AND split_part(d.group_id, '-', 3)::bigint) THEN 'failed'
			     ELSE 'indexing' END
		FROM products p LEFT JOIN index_state s ON s.model = $1 AND s.product_id = p.id
		WHERE p.id = ANY($2)`, s.model, ids)
	if err != nil {
		return nil, fmt.Errorf("read sync state of %d products: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, fmt.Errorf("read sync state: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	return out, nil
}
