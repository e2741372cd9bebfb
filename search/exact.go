package search

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/refarch/refarch/product"
)

// Exact finds products by identifier (catalog.Store.FindExact). When the
// Rows given to New also implement it, an exact SKU or id match is pinned
// first in every mode: a vector can never be trusted to rank an identifier.
type Exact interface {
	FindExact(ctx context.Context, text string) ([]product.Product, error)
}

// Lookup says what kind of identifier a query looks like.
type Lookup string

// The lookups a query can look like: none, a SKU or a product id.
const (
	LookupNone Lookup = ""
	LookupSKU  Lookup = "sku"
	LookupID   Lookup = "id"
)

// skuShape is one word of letters and digits, joined by dashes, dots or
// slashes, with at least one digit: KIT-002299, ab12, X-1/B.
var skuShape = regexp.MustCompile(`^[A-Za-z0-9]+([-./][A-Za-z0-9]+)*$`)

var hasDigit = regexp.MustCompile(`[0-9]`)

// LookupOf reports whether text looks like an id (a whole number) or a SKU.
func LookupOf(text string) Lookup {
	if n, err := strconv.ParseInt(text, 10, 64); err == nil && n > 0 {
		return LookupID
	}
	if len(text) <= product.MaxSKU && skuShape.MatchString(text) && hasDigit.MatchString(text) {
		return LookupSKU
	}
	return LookupNone
}

// exactMatches returns the products the query names exactly, when it looks
// like an identifier, with the filter applied to the row as it is.
func (s *Service) exactMatches(ctx context.Context, q Query) ([]Result, error) {
	if s.exact == nil || LookupOf(q.Text) == LookupNone {
		return nil, nil
	}
	ps, err := s.exact.FindExact(ctx, q.Text)
	if err != nil {
		return nil, fmt.Errorf("look up exact match: %w", err)
	}
	var out []Result
	for _, p := range ps {
		if !matchesRow(q.Filter, p) {
			continue
		}
		m := MatchSKU
		if strconv.FormatInt(p.ID, 10) == q.Text {
			m = MatchID
		}
		out = append(out, Result{Product: p, Label: LabelExact, Match: m})
	}
	return out, nil
}

// pinExact puts the exact matches first and drops them from the ranked
// results, so that each product appears once.
func pinExact(exact, ranked []Result) []Result {
	if len(exact) == 0 {
		return ranked
	}
	pinned := make(map[int64]int, len(exact))
	for i, e := range exact {
		pinned[e.Product.ID] = i
	}
	out := append([]Result(nil), exact...)
	for _, r := range ranked {
		if i, ok := pinned[r.Product.ID]; ok {
			// Keep the ranking's raw score and similarity for the API.
			out[i].Score, out[i].Similarity, out[i].HasSimilarity = r.Score, r.Similarity, r.HasSimilarity
			continue
		}
		out = append(out, r)
	}
	return out
}
