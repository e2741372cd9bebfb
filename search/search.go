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
	// MaxWindow bounds offset+k: paging goes this deep into the ranking.
	MaxWindow = 200
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

// Recent ranks the vectors written lately exactly (see package
// recentvectors): the best k of those that pass the filter, best first.
type Recent interface {
	// also names the products of the vector store's answer: their recent
	// vectors come back too, whatever their rank, since the store may
	// still hold an older vector (Pinecone's lag).
	Recent(ctx context.Context, values []float32, k int, filter vectormeta.Filter, also []int64) ([]vectorstore.Match, error)
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
	// Offset skips that many results (paging); Offset+K <= MaxWindow.
	Offset int
	// MinScore overrides the model's relevance floor: results whose
	// similarity is below it are not shown. Nil means the calibrated floor.
	MinScore *float64
}

// Match says why a result is in the answer beyond its ranking.
type Match string

// A result is ranked, or pinned as an exact SKU or id match.
const (
	MatchRanked Match = ""
	MatchSKU    Match = "exact_sku"
	MatchID     Match = "exact_id"
)

// Result is one ranked product. Score is the raw ranking score: the cosine
// similarity in vector mode and the fused reciprocal rank score in hybrid
// mode; higher is better. Similarity is the cosine similarity in both modes
// (absent for a hybrid result found by its words only), and Label grades it
// the same way in both, so that people can compare them.
type Result struct {
	Product       product.Product
	Score         float64
	Similarity    float64
	HasSimilarity bool
	Label         Label
	Match         Match
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
	// Total counts the results above the floor among the candidates the
	// index returned; Capped means the index may hold more beyond them.
	Total  int
	Capped bool
	// More is true when a later page has results.
	More bool
	// Weaker counts candidates hidden by the floor.
	Weaker int
	// Floor is the similarity floor applied (0 when none).
	Floor float64
	// Lookup says the query looks like a SKU or id; Found whether a product
	// has it (an exact match pinned first).
	Lookup Lookup
	Found  bool
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
	exact Exact
	cal   Calibration
	cache *queryCache
	// recent, when set, is merged into the vector store's results.
	recent Recent
}

// queryCacheSize bounds the query vector cache: 2,048 vectors of 512
// floats are 4 MB.
const queryCacheSize = 2048

// New builds a Service; fts may be nil, and then hybrid mode is refused.
// When rows also implements Exact, exact SKU and id matches are pinned
// first; when emb names its model (Model() string) and the model has a
// calibration, its relevance floor and labels apply.
func New(emb Embedder, vec Vectors, rows Rows, fts FullText) *Service {
	s := &Service{emb: emb, vec: vec, rows: rows, fts: fts, cache: newQueryCache(queryCacheSize)}
	s.exact, _ = rows.(Exact)
	if m, ok := emb.(interface{ Model() string }); ok {
		s.cal, _ = CalibrationFor(m.Model())
	}
	return s
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
	if s := v.Get("offset"); s != "" {
		o, err := strconv.Atoi(s)
		if err != nil || o < 0 || o+q.K > MaxWindow {
			problems = append(problems, fmt.Sprintf("offset must be a whole number from 0 to %d minus k", MaxWindow))
		} else {
			q.Offset = o
		}
	}
	if s := strings.TrimSpace(v.Get("min_score")); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < -1 || f > 1 {
			problems = append(problems, "min_score must be a number from -1 to 1")
		} else {
			q.MinScore = &f
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
	if q.Offset < 0 || q.Offset+q.K > MaxWindow {
		return Response{}, invalid("offset+k must be at most %d", MaxWindow)
	}
	if q.Mode == ModeHybrid && s.fts == nil {
		return Response{}, invalid("hybrid mode is not available on this server")
	}
	exact, err := s.exactMatches(ctx, q)
	if err != nil {
		return Response{}, err
	}
	qvec, err := s.embed(ctx, q.Text)
	if err != nil {
		return Response{}, err
	}
	// One more than the page needs tells whether there is a next page.
	want := q.Offset + q.K + 1
	candidates := want
	if q.Mode == ModeHybrid {
		// Each ranker brings more than k so that an item ranked well by
		// one and moderately by the other can still make the cut.
		candidates = min(2*want, 2*MaxWindow)
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
		also := make([]int64, 0, len(matches))
		for _, m := range matches {
			if id, err := vectormeta.ParseVectorID(m.ID); err == nil {
				also = append(also, id)
			}
		}
		fresh, err := s.recent.Recent(ctx, qvec, candidates, q.Filter, also)
		if err != nil {
			return Response{}, err
		}
		matches = recentvectors.Merge(matches, fresh, candidates)
	}
	type ranked struct {
		id    int64
		score float64
	}
	// The vector store's answer by product id, best first; an id that does
	// not parse is not a product's vector.
	vecRanked := make([]ranked, 0, len(matches))
	sims := make(map[int64]float64, len(matches))
	for _, m := range matches {
		id, err := vectormeta.ParseVectorID(m.ID)
		if err != nil {
			continue
		}
		vecRanked = append(vecRanked, ranked{id, float64(m.Score)})
		if _, dup := sims[id]; !dup {
			sims[id] = float64(m.Score)
		}
	}
	var order []ranked
	capped := len(matches) == candidates
	if q.Mode == ModeHybrid {
		textIDs, err := s.fts.FullText(ctx, q.Text, candidates, q.Filter)
		if err != nil {
			return Response{}, err
		}
		capped = capped || len(textIDs) == candidates
		fused := map[int64]float64{}
		for rank, r := range vecRanked {
			fused[r.id] += 1.0 / float64(rrfK+rank+1)
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
		order = vecRanked
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
	all := make([]Result, 0, len(order))
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
		res := Result{Product: p, Score: r.score}
		res.Similarity, res.HasSimilarity = sims[r.id]
		all = append(all, res)
	}
	floor := s.floor(q)
	all, weaker := s.grade(all, floor)
	all = pinExact(exact, all)
	resp := Response{Total: len(all), Capped: capped, Weaker: weaker, Floor: floor,
		Lookup: LookupOf(q.Text), Found: len(exact) > 0, IndexReady: ready}
	if q.Offset < len(all) {
		resp.Results = all[q.Offset:min(len(all), q.Offset+q.K)]
	} else {
		resp.Results = []Result{}
	}
	resp.More = len(all) > q.Offset+q.K
	resp.Took = time.Since(start)
	if len(resp.Results) == 0 {
		resp.Message = s.emptyMessage(q, resp)
	}
	return resp, nil
}

// matchesRow applies the filter to the row as it is now, since the vector
// store's metadata may lag an edit by a moment.
func matchesRow(f vectormeta.Filter, p product.Product) bool {
	return f.Match(vectormeta.Metadata{Category: p.Category, Price: p.Price.Float()})
}

func (s *Service) emptyMessage(q Query, r Response) string {
	var msg string
	switch {
	case r.Lookup == LookupSKU:
		msg = fmt.Sprintf("No product has the SKU %q, and nothing else matches closely.", truncate(q.Text, 80))
	case r.Lookup == LookupID:
		msg = fmt.Sprintf("No product has the id %s, and nothing else matches closely.", q.Text)
	case r.Weaker > 0:
		msg = fmt.Sprintf("No close matches for %q.", truncate(q.Text, 80))
	default:
		msg = fmt.Sprintf("No products match %q.", truncate(q.Text, 80))
	}
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
