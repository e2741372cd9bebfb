// Package status answers "is the index in sync with the table?" from the
// index state (package indexstate) and the queue's depth. It reads only; it
// backs `refarch status`, the status page and the UI's per-product sync
// badges.
package status

import (
	"context"
	"fmt"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/vectorstore"
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
	// QueueLanes is each lane's part of Queue ("live" changes and
	// "backfill": catch-up, repairs), for a queue with lanes.
	QueueLanes map[queue.Lane]queue.Depth `json:"queue_lanes,omitempty"`
	// OldestUnindexedAgeSeconds is the age of the oldest change the index
	// does not reflect yet (0 when in sync).
	OldestUnindexedAgeSeconds float64 `json:"oldest_unindexed_age_seconds"`
	// Outage is a component emu cannot write through for any product (the
	// vector store or the embedder), null when there is none. Emu holds the
	// messages meanwhile: nothing is dead-lettered, and it heals by itself.
	Outage *Outage `json:"outage"`
	// SearchIndex is the state of the store's search index (pgvector's
	// HNSW index); absent for stores that have none to build.
	SearchIndex *vectorstore.IndexProgress `json:"search_index,omitempty"`
	// Generations lists every index generation with its progress (the
	// counts above are model's, read once for both).
	Generations []Generation `json:"generations,omitempty"`
}

// ErrCounting is returned by Get while a fold starts the counts of a new
// index over a large catalog (indexstate.ErrCounting): seconds, once per
// index.
var ErrCounting = indexstate.ErrCounting

// Outage is a store-wide failure emu is riding out.
type Outage = indexstate.Outage

// InSync reports whether the index reflects every committed change.
func (s Status) InSync() bool {
	return s.Indexed == s.Products && s.Stale == 0 && s.Missing == 0 && s.DeletePending == 0 && s.Outbox == 0
}

// Depther is the part of a queue status reads.
type Depther interface {
	Name() string
	Depth(ctx context.Context) (queue.Depth, error)
}

// LaneDepther is a queue with lanes (queue.Lanes), whose depth status
// shows lane by lane.
type LaneDepther interface {
	LaneDepths(ctx context.Context) ([]queue.LaneDepth, error)
}

// Get computes the status of the index of model, with every index
// generation's progress. q may be nil, then the queue depth is left zero.
func Get(ctx context.Context, db indexstate.DB, q Depther, model string) (Status, error) {
	sum, err := indexstate.New(db, model).Summarize(ctx)
	if err != nil {
		return Status{}, err
	}
	s := Status{Model: model, Products: sum.Products, Indexed: sum.Indexed, Stale: sum.Stale, Missing: sum.Missing,
		DeletePending: sum.DeletePending, Failed: sum.Failed, Outbox: sum.Outbox,
		OldestUnindexedAgeSeconds: sum.OldestUnindexedAgeSeconds}
	if s.Outage, err = indexstate.New(db, model).CurrentOutage(ctx); err != nil {
		return Status{}, err
	}
	if s.Generations, err = generationsWith(ctx, db, model, sum); err != nil {
		return Status{}, err
	}
	if q != nil {
		s.QueueBackend = q.Name()
		if ld, ok := q.(LaneDepther); ok {
			lanes, err := ld.LaneDepths(ctx)
			if err != nil {
				return Status{}, fmt.Errorf("read queue depth: %w", err)
			}
			s.QueueLanes = make(map[queue.Lane]queue.Depth, len(lanes))
			for _, l := range lanes {
				s.QueueLanes[l.Lane] = l.Depth
				s.Queue.Visible += l.Visible
				s.Queue.InFlight += l.InFlight
				s.Queue.Dead += l.Dead
			}
		} else {
			d, err := q.Depth(ctx)
			if err != nil {
				return Status{}, fmt.Errorf("read queue depth: %w", err)
			}
			s.Queue = d
		}
	}
	return s, nil
}

// Product sync states, for the UI's badges.
const (
	StateIndexed  = indexstate.StateIndexed
	StateIndexing = indexstate.StateIndexing
	StateFailed   = indexstate.StateFailed
)

// ProductStates returns the sync state of each existing product among ids
// (see indexstate.Store.ProductStates).
func ProductStates(ctx context.Context, db indexstate.DB, model string, ids []int64) (map[int64]string, error) {
	return indexstate.New(db, model).ProductStates(ctx, ids)
}

// Failure is a product emu gave up on.
type Failure = indexstate.Failure

// Failures lists the products emu gave up on for model, newest first.
func Failures(ctx context.Context, db indexstate.DB, model string, limit int) ([]Failure, error) {
	return indexstate.New(db, model).Failures(ctx, limit)
}
