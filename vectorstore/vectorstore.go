// Package vectorstore is the contract every vector index backend meets
// (pgvectorstore, pineconestore); vectorstoretest is its one conformance suite.
package vectorstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/refarch/refarch/vectormeta"
)

// Vector is one product's embedding and its metadata.
type Vector struct {
	ID     string
	Values []float32
	Meta   vectormeta.Metadata
}

// Match is one search hit; Score is cosine similarity, higher is closer.
type Match struct {
	ID    string
	Score float32
	Meta  vectormeta.Metadata
}

// Store is a vector index for one embedding model.
type Store interface {
	// Upsert writes vectors, replacing any with the same id.
	Upsert(ctx context.Context, vectors []Vector) error
	// UpdateMetadata replaces the metadata of existing vectors without
	// touching their values; ids that are not stored are ignored.
	UpdateMetadata(ctx context.Context, metas []vectormeta.Metadata) error
	// Delete removes vectors; ids that are not stored are ignored.
	Delete(ctx context.Context, ids []string) error
	// Query returns up to k matches ordered by descending score, with the
	// filter applied inside the search.
	Query(ctx context.Context, values []float32, k int, filter vectormeta.Filter) ([]Match, error)
	// Fetch returns the stored vectors among ids, keyed by id.
	Fetch(ctx context.Context, ids []string) (map[string]Vector, error)
	// Count returns how many vectors are stored.
	Count(ctx context.Context) (int, error)
	// Name describes the backend and index for status pages.
	Name() string
	// Close releases the store's own connections (not a pool it was given).
	Close() error
}

// ErrTransient marks errors worth retrying (rate limits, 5xx, timeouts).
var ErrTransient = errors.New("transient vector store error")

// Transient marks err as one of ErrTransient without changing its text.
func Transient(err error) error { return transientError{err} }

type transientError struct{ err error }

func (e transientError) Error() string        { return e.err.Error() }
func (e transientError) Unwrap() error        { return e.err }
func (e transientError) Is(target error) bool { return target == ErrTransient }

// ErrUnavailable marks errors about the store as a whole rather than about
// the vectors of one call: the index or table is missing, the credentials
// are refused, the store is read-only. No product is to blame, so callers
// hold their work until the store serves again instead of giving up on it.
var ErrUnavailable = errors.New("vector store unavailable")

// Unavailable marks err as one of ErrUnavailable without changing its text.
func Unavailable(err error) error { return unavailableError{err} }

type unavailableError struct{ err error }

func (e unavailableError) Error() string        { return e.err.Error() }
func (e unavailableError) Unwrap() error        { return e.err }
func (e unavailableError) Is(target error) bool { return target == ErrUnavailable }

// CheckValues reports why v cannot be stored in, or searched against, an
// index of dimension dim: a wrong length, a NaN or infinite value, or all
// zeros, which has no cosine similarity. Backends check before sending, so a
// bad vector gets the same clear error from every one of them.
func CheckValues(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("vector has %d dimensions, the store holds %d", len(v), dim)
	}
	zero := true
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("vector value %d is %v", i, f)
		}
		zero = zero && f == 0
	}
	if zero {
		return errors.New("vector is all zeros, which has no cosine similarity")
	}
	return nil
}

// LastPerID checks every vector's values with CheckValues and returns the
// vectors with only the last one of each id, in their order: within one
// Upsert the last vector given for an id wins. Every backend's Upsert starts
// with it.
func LastPerID(vectors []Vector, dim int) ([]Vector, error) {
	last := make(map[string]int, len(vectors))
	for i, v := range vectors {
		if err := CheckValues(v.Values, dim); err != nil {
			return nil, fmt.Errorf("upsert vector %s: %w", v.ID, err)
		}
		last[v.ID] = i
	}
	out := make([]Vector, 0, len(last))
	for i, v := range vectors {
		if last[v.ID] == i {
			out = append(out, v)
		}
	}
	return out, nil
}

// LastPerProduct returns metas with only the last one given for each
// product, in product id order: within one UpdateMetadata the last metadata
// given for a product wins, and backends that lock rows take them in one
// order. Every backend's UpdateMetadata starts with it.
func LastPerProduct(metas []vectormeta.Metadata) []vectormeta.Metadata {
	last := make(map[int64]vectormeta.Metadata, len(metas))
	for _, m := range metas {
		last[m.ProductID] = m
	}
	return slices.SortedFunc(maps.Values(last), func(a, b vectormeta.Metadata) int { return cmp.Compare(a.ProductID, b.ProductID) })
}

// Search index states, for IndexProgress.State.
const (
	IndexReady    = "ready"
	IndexBuilding = "building"
	IndexMissing  = "missing"
)

// IndexProgress is the state of a store's search index: ready, building
// (Done of Total vectors loaded into the graph, ETASeconds to go, 0 when
// unknown) or missing (searches fall back to a bounded exact scan). It is
// what `status --json` prints as search_index.
type IndexProgress struct {
	State      string  `json:"state"`
	Phase      string  `json:"phase,omitempty"`
	Done       int64   `json:"done"`
	Total      int64   `json:"total"`
	ETASeconds float64 `json:"eta_seconds"`
}

// Percent is Done of Total in percent, 100 when ready.
func (p IndexProgress) Percent() float64 {
	switch {
	case p.State == IndexReady:
		return 100
	case p.Total <= 0:
		return 0
	}
	return min(100, 100*float64(p.Done)/float64(p.Total))
}

// ErrSearchTimeout marks a search the store cancelled because it outlasted
// its time budget.
var ErrSearchTimeout = errors.New("vector search timed out")
