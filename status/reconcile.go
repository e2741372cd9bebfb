package status

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// Report is what Reconcile found (and, with repair, enqueued).
type Report struct {
	Products int `json:"products"`
	// InSync counts products whose index_state and vector both hold the
	// current version and content hash.
	InSync int `json:"in_sync"`
	// StateMissing and StateStale compare index_state with the table.
	StateMissing int `json:"state_missing"`
	StateStale   int `json:"state_stale"`
	// VectorMissing and VectorStale compare the vector store with the table.
	VectorMissing int `json:"vector_missing"`
	VectorStale   int `json:"vector_stale"`
	// Orphans are index_state rows or vectors of products that no longer
	// exist; OrphanVectorsUnknown counts vectors the store holds beyond every
	// id known to the table or index_state (Count minus what was found).
	OrphanStates         int `json:"orphan_states"`
	OrphanVectors        int `json:"orphan_vectors"`
	OrphanVectorsUnknown int `json:"orphan_vectors_unknown"`
	// Enqueued is how many repair messages were sent.
	Enqueued int `json:"enqueued"`
}

// Clean reports whether nothing is out of sync.
func (r Report) Clean() bool {
	return r.InSync == r.Products && r.OrphanStates == 0 && r.OrphanVectors == 0 && r.OrphanVectorsUnknown == 0
}

// Reconcile compares the table, index_state and the vector store page by
// page. With repair it resets the index_state of every product whose vector
// is wrong (so emu re-embeds it instead of trusting the record) and enqueues
// an upsert for it, and a delete for every orphan.
func Reconcile(ctx context.Context, pool *pgxpool.Pool, store vectorstore.Store, q queue.Queue, model string, repair bool, page int, progress func(Report)) (Report, error) {
	if page <= 0 {
		page = 1000
	}
	var r Report
	found := 0
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	var after int64
	for {
		rows, err := pool.Query(ctx, `SELECT p.id, p.sku, p.name, p.description, (p.price * 100)::bigint, p.category,
				p.created_at, p.updated_at, p.version,
				coalesce(s.version, -1), coalesce(s.content_hash, ''), coalesce(s.deleted, false)
			FROM products p LEFT JOIN index_state s ON s.model = $1 AND s.product_id = p.id
			WHERE p.id > $2 ORDER BY p.id LIMIT $3`, model, after, page)
		if err != nil {
			return r, fmt.Errorf("read products after %d: %w", after, err)
		}
		type row struct {
			p       product.Product
			sv      int64
			sh      string
			deleted bool
		}
		var batch []row
		for rows.Next() {
			var x row
			var cents int64
			if err := rows.Scan(&x.p.ID, &x.p.SKU, &x.p.Name, &x.p.Description, &cents, &x.p.Category,
				&x.p.CreatedAt, &x.p.UpdatedAt, &x.p.Version, &x.sv, &x.sh, &x.deleted); err != nil {
				rows.Close()
				return r, fmt.Errorf("read products: %w", err)
			}
			x.p.Price = product.Price(cents)
			batch = append(batch, x)
		}
		if err := rows.Err(); err != nil {
			return r, fmt.Errorf("read products: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].p.ID
		ids := make([]string, len(batch))
		for i, x := range batch {
			ids[i] = vectormeta.VectorID(x.p.ID)
		}
		vecs, err := store.Fetch(ctx, ids)
		if err != nil {
			return r, fmt.Errorf("fetch %d vectors: %w", len(ids), err)
		}
		found += len(vecs)
		var fix []queuemsg.Message
		var reset []int64
		for _, x := range batch {
			r.Products++
			hash := product.ContentHash(x.p.EmbedText())
			stateOK := x.sv >= 0 && !x.deleted && x.sv >= x.p.Version && x.sh == hash
			switch {
			case x.sv <= 0 || x.deleted:
				r.StateMissing++
			case !stateOK:
				r.StateStale++
			}
			v, ok := vecs[vectormeta.VectorID(x.p.ID)]
			vectorOK := ok && v.Meta.Version == x.p.Version && v.Meta.ContentHash == hash &&
				v.Meta.Category == x.p.Category && v.Meta.Price == x.p.Price.Float()
			switch {
			case !ok:
				r.VectorMissing++
			case !vectorOK:
				r.VectorStale++
			}
			if stateOK && vectorOK {
				r.InSync++
				continue
			}
			p := x.p
			fix = append(fix, queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceRepair, ProductID: p.ID,
				Version: p.Version, ChangedAt: p.UpdatedAt, New: &p})
			if !vectorOK && x.sv >= 0 {
				reset = append(reset, p.ID)
			}
		}
		if repair {
			if err := sendRepairs(ctx, pool, q, model, fix, reset, stamp); err != nil {
				return r, err
			}
			r.Enqueued += len(fix)
		}
		if progress != nil {
			progress(r)
		}
	}

	// Orphans: index_state rows (and their vectors) of products gone.
	rows, err := pool.Query(ctx, `SELECT s.product_id, s.version FROM index_state s
		WHERE s.model = $1 AND NOT s.deleted AND s.version > 0
		AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = s.product_id) ORDER BY s.product_id`, model)
	if err != nil {
		return r, fmt.Errorf("find orphan index state: %w", err)
	}
	var orphans []queuemsg.Message
	now := time.Now()
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return r, fmt.Errorf("read orphan index state: %w", err)
		}
		orphans = append(orphans, queuemsg.Message{Op: queuemsg.OpDelete, Source: queuemsg.SourceRepair, ProductID: id, Version: v + 1, ChangedAt: now})
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("read orphan index state: %w", err)
	}
	r.OrphanStates = len(orphans)
	for start := 0; start < len(orphans); start += page {
		chunk := orphans[start:min(len(orphans), start+page)]
		ids := make([]string, len(chunk))
		for i, m := range chunk {
			ids[i] = vectormeta.VectorID(m.ProductID)
		}
		vecs, err := store.Fetch(ctx, ids)
		if err != nil {
			return r, fmt.Errorf("fetch %d orphan vectors: %w", len(ids), err)
		}
		r.OrphanVectors += len(vecs)
		found += len(vecs)
	}
	if repair {
		if err := sendRepairs(ctx, pool, q, model, orphans, nil, stamp); err != nil {
			return r, err
		}
		r.Enqueued += len(orphans)
	}
	n, err := store.Count(ctx)
	if err != nil {
		return r, fmt.Errorf("count vectors: %w", err)
	}
	r.OrphanVectorsUnknown = max(0, n-found)
	return r, nil
}

// sendRepairs resets the index_state of products whose vector is wrong and
// enqueues the messages. Repair deduplication ids carry a stamp, so a repair
// is never dropped as a repeat of the original change.
func sendRepairs(ctx context.Context, pool *pgxpool.Pool, q queue.Queue, model string, msgs []queuemsg.Message, reset []int64, stamp string) error {
	if len(reset) > 0 {
		if _, err := pool.Exec(ctx, `UPDATE index_state SET version = 0, content_hash = '' WHERE model = $1 AND product_id = ANY($2)`, model, reset); err != nil {
			return fmt.Errorf("reset index state of %d products: %w", len(reset), err)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	out := make([]queue.Outgoing, len(msgs))
	for i, m := range msgs {
		o, err := queuemsg.Outgoing(m)
		if err != nil {
			return err
		}
		o.DedupID += "-repair-" + stamp
		out[i] = o
	}
	if err := q.Send(ctx, out); err != nil {
		return fmt.Errorf("enqueue %d repairs: %w", len(out), err)
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

// Failures lists the products emu gave up on for model, newest first.
func Failures(ctx context.Context, pool *pgxpool.Pool, model string, limit int) ([]Failure, error) {
	rows, err := pool.Query(ctx, `SELECT product_id, version, error, receive_count, failed_at FROM index_failures
		WHERE model = $1 ORDER BY failed_at DESC LIMIT $2`, model, limit)
	if err != nil {
		return nil, fmt.Errorf("list index failures: %w", err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.ProductID, &f.Version, &f.Error, &f.ReceiveCount, &f.FailedAt); err != nil {
			return nil, fmt.Errorf("list index failures: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
