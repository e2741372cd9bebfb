// Package vectormeta defines what is stored beside every vector: enough to
// check versions before a write, to skip unchanged embeddings, to keep models
// apart, and to filter searches inside the vector store.
package vectormeta

import (
	"fmt"
	"strconv"
)

// Metadata travels with each vector in every vector store.
type Metadata struct {
	ProductID   int64   `json:"product_id"`
	Version     int64   `json:"version"`
	ContentHash string  `json:"content_hash"`
	Model       string  `json:"model"`
	Category    string  `json:"category"`
	Price       float64 `json:"price"`
}

// VectorID is the id of a product's vector in any store.
func VectorID(productID int64) string { return strconv.FormatInt(productID, 10) }

// ParseVectorID is the inverse of VectorID.
func ParseVectorID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("vector id %q is not a product id", id)
	}
	return n, nil
}

// Filter narrows a search; it is applied inside the vector store's query so
// that top-k means top-k among the matching products.
type Filter struct {
	Category string   `json:"category,omitempty"`
	MinPrice *float64 `json:"min_price,omitempty"`
	MaxPrice *float64 `json:"max_price,omitempty"`
}

// Empty reports whether the filter matches everything.
func (f Filter) Empty() bool { return f.Category == "" && f.MinPrice == nil && f.MaxPrice == nil }

// SQL returns the filter's conditions over the columns category and price,
// each name prefixed by qual (a table alias and a dot, or ""), with the
// values appended to args and numbered after those already there. It is
// the one place that writes a filter as SQL: the pgvector store's query
// and the recent vectors' scan both use it, so they cannot disagree.
func (f Filter) SQL(qual string, args []any) ([]string, []any) {
	var where []string
	if f.Category != "" {
		args = append(args, f.Category)
		where = append(where, fmt.Sprintf("%scategory = $%d", qual, len(args)))
	}
	if f.MinPrice != nil {
		args = append(args, *f.MinPrice)
		where = append(where, fmt.Sprintf("%sprice >= $%d::float8", qual, len(args)))
	}
	if f.MaxPrice != nil {
		args = append(args, *f.MaxPrice)
		where = append(where, fmt.Sprintf("%sprice <= $%d::float8", qual, len(args)))
	}
	return where, args
}

// Match reports whether m passes the filter; stores that cannot push a filter
// down use it, and tests use it as the reference.
func (f Filter) Match(m Metadata) bool {
	if f.Category != "" && m.Category != f.Category {
		return false
	}
	if f.MinPrice != nil && m.Price < *f.MinPrice {
		return false
	}
	if f.MaxPrice != nil && m.Price > *f.MaxPrice {
		return false
	}
	return true
}
