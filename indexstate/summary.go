package indexstate

import (
	"context"
	"fmt"
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

// Summarize computes the Summary in one statement, so that its counts agree.
func (s *Store) Summarize(ctx context.Context) (Summary, error) {
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
		return Summary{}, fmt.Errorf("compute index status: %w", err)
	}
	r.OldestUnindexedAgeSeconds = max(r.OldestUnindexedAgeSeconds, 0)
	return r, nil
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
func (s *Store) ProductStates(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `
		SELECT p.id,
			CASE WHEN s.version >= p.version AND NOT s.deleted THEN 'indexed'
			     WHEN EXISTS (SELECT 1 FROM index_failures f WHERE f.model = $1 AND f.product_id = p.id)
			       OR EXISTS (SELECT 1 FROM queue_dead d WHERE d.group_id = p.id::text) THEN 'failed'
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
