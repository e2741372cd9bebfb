// Package search answers plain-language queries over the catalog: it embeds
// the query with the same model emu indexes with, asks the vector store for
// the top k (filters applied inside the store's query), and loads the rows
// from Postgres in one query, keeping the store's order and scores. It never
// falls back to unranked rows: no match is an empty answer with a message.
package search

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// Bounds of a query; they keep one request from costing the embedder or the
// vector store more than a page of results is worth.
const (
	MaxQueryLen = 500
	DefaultK    = 20
	MaxK        = 100
)

// Mode chooses how results are ranked.
type Mode string

const (
	// ModeVector ranks by cosine similarity of embeddings alone.
	ModeVector Mode = "vector"
	// ModeHybrid fuses the vector ranking with Postgres full-text search by
	// reciprocal rank fusion, so exact words (a SKU, a brand) also count.
	ModeHybrid Mode = "hybrid"
)

// rrfK is the usual reciprocal rank fusion constant: it damps the weight of
// the very first ranks so that agreement between rankers matters more.
const rrfK = 60

// Embedder turns the query into a vector; it must be the model the index
// was built with.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Vectors is the part of the vector store search needs.
type Vectors interface {
	Query(ctx context.Context, values []float32, k int, filter vectormeta.Filter) ([]vectorstore.Match, error)
}

// Recent scores the vectors written lately exactly (see package
// recentvectors): every one that passes the filter, best first.
type Recent interface {
	Recent(ctx context.Context, values []float32, filter vectormeta.Filter) ([]vectorstore.Match, error)
}

// Rows loads products by id in one query; ids that are gone are absent.
type Rows interface {
	GetMany(ctx context.Context, ids []int64) (map[int64]product.Product, error)
}

// FullText ranks product ids by Postgres full-text search, for hybrid mode.
type FullText interface {
	FullText(ctx context.Context, text string, k int, filter vectormeta.Filter) ([]int64, error)
}

// Query is one validated search request.
type Query struct {
	Text   string
	K      int
	Mode   Mode
	Filter vectormeta.Filter
}

// Result is one ranked product. Score is the cosine similarity in vector
// mode and the fused reciprocal rank score in hybrid mode; higher is better.
type Result struct {
	Product product.Product
	Score   float64
}

// Response is a ranked answer.
type Response struct {
	Results []Result
	// Message explains an empty answer; it is empty when there are results.
	Message string
	Took    time.Duration
	// IndexReady is false while the vector store's search index is missing
	// or building: the store then ranks only a bounded part of the catalog,
	// so results may be incomplete.
	IndexReady bool
}

// IndexReporter is implemented by vector stores whose search index can be
// missing or still building (pgvectorstore).
type IndexReporter interface {
	IndexReady(ctx context.Context) bool
}

// ErrUnavailable marks a search that could not be answered within its time
// budget; it maps to HTTP 503 with Retry-After.
var ErrUnavailable = errors.New("search is unavailable")

// IndexBuildingNotice is what the API and UI say while IndexReady is false.
const IndexBuildingNotice = "The search index is building: results come from part of the catalog and may be incomplete."

// Service runs searches.
type Service struct {
	emb   Embedder
	vec   Vectors
	rows  Rows
	fts   FullText
	cache *queryCache
	// recent, when set, is merged into the vector store's results.
	recent Recent
}

// queryCacheSize bounds the query vector cache: 2,048 vectors of 512
// floats are 4 MB.
const queryCacheSize = 2048

// New builds a Service; fts may be nil, and then hybrid mode is refused.
func New(emb Embedder, vec Vectors, rows Rows, fts FullText) *Service {
	return &Service{emb: emb, vec: vec, rows: rows, fts: fts, cache: newQueryCache(queryCacheSize)}
}

// WithRecent merges an exact scan of recently written vectors into every
// vector search, so a product written a moment ago is ranked by its true
// score even where the approximate index misses it or does not show it
// yet. It returns s.
func (s *Service) WithRecent(r Recent) *Service {
	s.recent = r
	return s
}

// embed returns the query's vector, from the cache when the same text was
// embedded recently. The model is fixed for a Service, so the text alone is
// the key.
func (s *Service) embed(ctx context.Context, text string) ([]float32, error) {
	if v, ok := s.cache.get(text); ok {
		return v, nil
	}
	vecs, err := s.emb.Embed(ctx, []string{text})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("embed query: got %d vectors for 1 text", len(vecs))
	}
	s.cache.put(text, vecs[0])
	return vecs[0], nil
}

// ErrInvalid marks a request the caller must fix; it maps to HTTP 400.
var ErrInvalid = errors.New("invalid search")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseQuery reads and validates q, k, mode, category, min_price and
// max_price. Every problem is reported at once.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Text: strings.TrimSpace(v.Get("q")), K: DefaultK, Mode: ModeVector}
	var problems []string
	switch {
	case q.Text == "":
		problems = append(problems, "q is required: say what you are looking for")
	case !utf8.ValidString(q.Text):
		problems = append(problems, "q is not valid UTF-8")
	case utf8.RuneCountInString(q.Text) > MaxQueryLen:
		problems = append(problems, fmt.Sprintf("q is longer than %d characters", MaxQueryLen))
	}
	if s := v.Get("k"); s != "" {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 || k > MaxK {
			problems = append(problems, fmt.Sprintf("k must be a whole number from 1 to %d", MaxK))
		} else {
			q.K = k
		}
	}
	switch m := Mode(v.Get("mode")); m {
	case "", ModeVector:
	case ModeHybrid:
		q.Mode = ModeHybrid
	default:
		problems = append(problems, fmt.Sprintf("mode %q: want vector or hybrid", truncate(string(m), 40)))
	}
	q.Filter.Category = strings.TrimSpace(v.Get("category"))
	if utf8.RuneCountInString(q.Filter.Category) > product.MaxCategory || !utf8.ValidString(q.Filter.Category) {
		problems = append(problems, fmt.Sprintf("category must be valid text of at most %d characters", product.MaxCategory))
	}
	price := func(name string) *float64 {
		s := strings.TrimSpace(v.Get(name))
		if s == "" {
			return nil
		}
		p, err := product.ParsePrice(s)
		if err != nil || p < 0 {
			problems = append(problems, name+" must be a non-negative amount like 19.99")
			return nil
		}
		f := p.Float()
		return &f
	}
	q.Filter.MinPrice = price("min_price")
	q.Filter.MaxPrice = price("max_price")
	if q.Filter.MinPrice != nil && q.Filter.MaxPrice != nil && *q.Filter.MinPrice > *q.Filter.MaxPrice {
		problems = append(problems, "min_price must not be greater than max_price")
	}
	if len(problems) > 0 {
		return q, invalid("%s", strings.Join(problems, "; "))
	}
	return q, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Search answers q, which must come from ParseQuery or be equally valid.
func (s *Service) Search(ctx context.Context, q Query) (Response, error) {
	start := time.Now()
	if q.K < 1 || q.K > MaxK {
		return Response{}, invalid("k must be from 1 to %d", MaxK)
	}
	if q.Mode == ModeHybrid && s.fts == nil {
		return Response{}, invalid("hybrid mode is not available on this server")
	}
	qvec, err := s.embed(ctx, q.Text)
	if err != nil {
		return Response{}, err
	}
	candidates := q.K
	if q.Mode == ModeHybrid {
		// Each ranker brings more than k so that an item ranked well by
		// one and moderately by the other can still make the cut.
		candidates = min(2*q.K, 2*MaxK)
	}
	matches, err := s.vec.Query(ctx, qvec, candidates, q.Filter)
	if errors.Is(err, vectorstore.ErrSearchTimeout) {
		return Response{}, fmt.Errorf("%w: query vector store: %w", ErrUnavailable, err)
	}
	if err != nil {
		return Response{}, fmt.Errorf("query vector store: %w", err)
	}
	ready := true
	if r, ok := s.vec.(IndexReporter); ok {
		ready = r.IndexReady(ctx)
	}
	if s.recent != nil {
		fresh, err := s.recent.Recent(ctx, qvec, q.Filter)
		if err != nil {
			return Response{}, err
		}
		matches = recentvectors.Merge(matches, fresh, candidates)
	}
	type ranked struct {
		id    int64
		score float64
	}
	var order []ranked
	if q.Mode == ModeHybrid {
		textIDs, err := s.fts.FullText(ctx, q.Text, candidates, q.Filter)
		if err != nil {
			return Response{}, err
		}
		fused := map[int64]float64{}
		for rank, m := range matches {
			if id, err := vectormeta.ParseVectorID(m.ID); err == nil {
				fused[id] += 1.0 / float64(rrfK+rank+1)
			}
		}
		for rank, id := range textIDs {
			fused[id] += 1.0 / float64(rrfK+rank+1)
		}
		for id, sc := range fused {
			order = append(order, ranked{id, sc})
		}
		sort.Slice(order, func(i, j int) bool {
			if order[i].score != order[j].score {
				return order[i].score > order[j].score
			}
			return order[i].id < order[j].id
		})
	} else {
		for _, m := range matches {
			id, err := vectormeta.ParseVectorID(m.ID)
			if err != nil {
				continue
			}
			order = append(order, ranked{id, float64(m.Score)})
		}
	}
	ids := make([]int64, len(order))
	for i, r := range order {
		ids[i] = r.id
	}
	var rows map[int64]product.Product
	if len(ids) > 0 {
		rows, err = s.rows.GetMany(ctx, ids)
		if err != nil {
			return Response{}, fmt.Errorf("load search results: %w", err)
		}
	}
	results := make([]Result, 0, min(len(order), q.K))
	seen := make(map[int64]bool, len(order))
	for _, r := range order {
		p, ok := rows[r.id]
		// Gone from the table (the delete is still on its way to the index),
		// a duplicate, or changed so that it no longer passes the filter:
		// never show a stale row.
		if !ok || seen[r.id] || !matchesRow(q.Filter, p) {
			continue
		}
		seen[r.id] = true
		results = append(results, Result{Product: p, Score: r.score})
		if len(results) == q.K {
			break
		}
	}
	resp := Response{Results: results, Took: time.Since(start), IndexReady: ready}
	if len(results) == 0 {
		resp.Message = emptyMessage(q)
	}
	return resp, nil
}

// matchesRow applies the filter to the row as it is now, since the vector
// store's metadata may lag an edit by a moment.
func matchesRow(f vectormeta.Filter, p product.Product) bool {
	return f.Match(vectormeta.Metadata{Category: p.Category, Price: p.Price.Float()})
}

func emptyMessage(q Query) string {
	msg := fmt.Sprintf("No products match %q.", truncate(q.Text, 80))
	if !q.Filter.Empty() {
		return msg + " Try removing the category or price filters."
	}
	return msg + " Try describing what the product does in other words; new products appear once they are indexed."
}

// IDs returns the product ids of the results in rank order.
func (r Response) IDs() []int64 {
	ids := make([]int64, len(r.Results))
	for i, res := range r.Results {
		ids[i] = res.Product.ID
	}
	return ids
}
