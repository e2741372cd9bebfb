// Package status answers "is the index in sync with the table?" with SQL
// over products, index_state, sync_outbox and index_failures plus the
// queue's depth. It backs `refarch status`, the status page and the UI's
// per-product sync badges.
package status

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/queue"
)

// Status is the object `refarch status --json` prints.
type Status struct {
	Model        string `json:"model"`
	QueueBackend string `json:"queue_backend"`
	// Products is the number of rows in the table.
	Products int64 `json:"products"`
	// Indexed counts rows whose current version is in the index.
	Indexed int64 `json:"indexed"`
	// Stale counts rows in the index at an older version.
	Stale int64 `json:"stale"`
	// Missing counts rows not in the index at all.
	Missing int64 `json:"missing"`
	// DeletePending counts deleted rows whose vector is still indexed.
	DeletePending int64 `json:"delete_pending"`
	// Failed counts products emu gave up on (their message is dead-lettered)
	// that are still not indexed at their current version.
	Failed int64 `json:"failed"`
	// Outbox is the number of changes not yet sent to the queue.
	Outbox int64       `json:"outbox"`
	Queue  queue.Depth `json:"queue"`
	// OldestUnindexedAgeSeconds is the age of the oldest change the index
	// does not reflect yet (0 when in sync).
	OldestUnindexedAgeSeconds float64 `json:"oldest_unindexed_age_seconds"`
}

// InSync reports whether the index reflects every committed change.
func (s Status) InSync() bool {
	return s.Indexed == s.Products && s.Stale == 0 && s.Missing == 0 && s.DeletePending == 0 && s.Outbox == 0
}

// Get computes the status of the index of model. q may be nil, then the
// queue depth is left zero.
func Get(ctx context.Context, pool *pgxpool.Pool, q queue.Queue, model string) (Status, error) {
	s := Status{Model: model}
	err := pool.QueryRow(ctx, `
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
		model).Scan(&s.Products, &s.Indexed, &s.Stale, &s.Missing, &s.DeletePending, &s.Failed, &s.Outbox, &s.OldestUnindexedAgeSeconds)
	if err != nil {
		return Status{}, fmt.Errorf("compute index status: %w", err)
	}
	s.OldestUnindexedAgeSeconds = max(s.OldestUnindexedAgeSeconds, 0)
	if q != nil {
		s.QueueBackend = q.Name()
		d, err := q.Depth(ctx)
		if err != nil {
			return Status{}, fmt.Errorf("read queue depth: %w", err)
		}
		s.Queue = d
	}
	return s, nil
}

// Product sync states, for the UI's badges.
const (
	StateIndexed  = "indexed"
	StateIndexing = "indexing"
	StateFailed   = "failed"
)

// ProductStates returns the sync state of each existing product among ids:
// "indexed" when the index holds its current version, "failed" when emu gave
// up on it (or, with the Postgres queue, a message of it is dead-lettered)
// and "indexing" otherwise. Unknown ids are left out.
func ProductStates(ctx context.Context, pool *pgxpool.Pool, model string, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := pool.Query(ctx, `
		SELECT p.id,
			CASE WHEN s.version >= p.version AND NOT s.deleted THEN 'indexed'
			     WHEN EXISTS (SELECT 1 FROM index_failures f WHERE f.model = $1 AND f.product_id = p.id)
			       OR EXISTS (SELECT 1 FROM queue_dead d WHERE d.group_id = p.id::text) THEN 'failed'
			     ELSE 'indexing' END
		FROM products p LEFT JOIN index_state s ON s.model = $1 AND s.product_id = p.id
		WHERE p.id = ANY($2)`, model, ids)
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
