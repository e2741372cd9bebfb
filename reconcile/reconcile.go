// Package reconcile compares the table, the index state and the vector store
// page by page and, with repair, writes the fixes: it resets the index state
// of products whose vector is wrong and enqueues the changes that bring the
// index back in line. It backs `refarch reconcile [--repair]`.
package reconcile

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// States is the part of the index state reconcile reads and repairs
// (indexstate.Store).
type States interface {
	Summarize(ctx context.Context) (indexstate.Summary, error)
	Page(ctx context.Context, after int64, limit int) ([]indexstate.Row, error)
	Orphans(ctx context.Context, lo, hi int64) ([]indexstate.Orphan, error)
	Reset(ctx context.Context, ids []int64) error
}

// Vectors is the part of the vector store reconcile reads.
type Vectors interface {
	Fetch(ctx context.Context, ids []string) (map[string]vectorstore.Vector, error)
	Count(ctx context.Context) (int, error)
}

// Sender enqueues repairs.
type Sender interface {
	Send(ctx context.Context, msgs []queue.Outgoing) error
}

// Report is what Run found (and, with repair, enqueued).
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

// Progress is how far a Run is: the report so far, the products to check
// (the table's row count when the run started) and the time taken.
type Progress struct {
	Report
	Total   int64
	Elapsed time.Duration
}

// Rate is the products checked per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Products) / p.Elapsed.Seconds()
}

// ETA extrapolates the time left from the rate so far (0 when unknown).
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	left := p.Total - int64(p.Products)
	if r <= 0 || left <= 0 {
		return 0
	}
	return time.Duration(float64(left) / r * float64(time.Second)).Round(time.Second)
}

// String is the progress line `refarch reconcile` prints.
func (p Progress) String() string {
	pct := 100.0
	if p.Total > 0 {
		pct = min(100, 100*float64(p.Products)/float64(p.Total))
	}
	return fmt.Sprintf("%d of %d products checked (%.1f%%), %.0f/s, about %s left, %d out of sync",
		p.Products, p.Total, pct, p.Rate(), p.ETA(), p.Products-p.InSync)
}

// Run compares the table, the index state and the vector store page by page.
// With repair it resets the index state of every product whose vector is
// wrong (so emu re-embeds it instead of trusting the record) and enqueues an
// upsert for it, and a delete for every orphan. q is only used with repair.
//
// progress, if set, is called after each page.
func Run(ctx context.Context, states States, store Vectors, q Sender, repair bool, page int, progress func(Progress)) (Report, error) {
	if page <= 0 {
		page = 1000
	}
	start := time.Now()
	sum, err := states.Summarize(ctx)
	if err != nil {
		return Report{}, err
	}
	var r Report
	found := 0
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	var after int64
	for {
		batch, err := states.Page(ctx, after, page)
		if err != nil {
			return r, err
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].Product.ID
		ids := make([]string, len(batch))
		for i, x := range batch {
			ids[i] = vectormeta.VectorID(x.Product.ID)
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
			p, st := x.Product, x.State
			hash := product.ContentHash(p.EmbedText())
			stateOK := x.HasState && !st.Deleted && st.Version >= p.Version && st.Hash == hash
			switch {
			case !x.HasState || st.Version == 0 || st.Deleted:
				r.StateMissing++
			case !stateOK:
				r.StateStale++
			}
			v, ok := vecs[vectormeta.VectorID(p.ID)]
			vectorOK := ok && v.Meta.Version == p.Version && v.Meta.ContentHash == hash &&
				v.Meta.Category == p.Category && v.Meta.Price == p.Price.Float()
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
			fix = append(fix, queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceRepair, ProductID: p.ID,
				Version: p.Version, ChangedAt: p.UpdatedAt, New: &p})
			if !vectorOK && x.HasState {
				reset = append(reset, p.ID)
			}
		}
		if repair {
			if err := states.Reset(ctx, reset); err != nil {
				return r, err
			}
			if err := send(ctx, q, fix, stamp); err != nil {
				return r, err
			}
			r.Enqueued += len(fix)
		}
		if progress != nil {
			progress(Progress{Report: r, Total: sum.Products, Elapsed: time.Since(start)})
		}
	}

	// Orphans: index state rows (and their vectors) of products gone.
	all, err := states.Orphans(ctx, 1, math.MaxInt64)
	if err != nil {
		return r, err
	}
	var orphans []queuemsg.Message
	now := time.Now()
	for _, o := range all {
		if o.Version > 0 {
			orphans = append(orphans, queuemsg.Message{Op: queuemsg.OpDelete, Source: queuemsg.SourceRepair,
				ProductID: o.ProductID, Version: o.Version + 1, ChangedAt: now})
		}
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
		if err := send(ctx, q, orphans, stamp); err != nil {
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

// send enqueues msgs. Repair deduplication ids carry a stamp, so a repair is
// never dropped as a repeat of the original change.
func send(ctx context.Context, q Sender, msgs []queuemsg.Message, stamp string) error {
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
