package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/search"
)

// Searcher answers ranked queries (search.Service).
type Searcher interface {
	Search(ctx context.Context, q search.Query) (search.Response, error)
}

// searchMetrics watch search from the API and the UI alike.
type searchMetrics struct {
	duration *prometheus.HistogramVec
	empty    *prometheus.CounterVec
}

func newSearchMetrics(reg prometheus.Registerer) searchMetrics {
	return searchMetrics{
		duration: promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refarch_search_duration_seconds",
			Help:    "Time to answer a search (embed, vector query, row load) by mode.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 12),
		}, []string{"mode"}),
		empty: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "refarch_search_empty_total",
			Help: "Searches that found nothing, by mode: a rising rate hints at an empty or lagging index.",
		}, []string{"mode"}),
	}
}

// search runs q and records its metrics.
func (s *Server) search(ctx context.Context, q search.Query) (search.Response, error) {
	resp, err := s.deps.Search.Search(ctx, q)
	if err != nil {
		return resp, err
	}
	s.searches.duration.WithLabelValues(string(q.Mode)).Observe(resp.Took.Seconds())
	if len(resp.Results) == 0 {
		s.searches.empty.WithLabelValues(string(q.Mode)).Inc()
	}
	return resp, nil
}

// searchHit is one result of GET /api/search.
type searchHit struct {
	ID          int64         `json:"id"`
	SKU         string        `json:"sku"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Price       product.Price `json:"price"`
	Category    string        `json:"category"`
	Score       float64       `json:"score"`
	// Similarity is the cosine similarity in both modes (absent for a
	// hybrid result found by its words only); Relevance grades it as the UI
	// shows it; Match marks an exact SKU or id match, pinned first.
	Similarity *float64     `json:"similarity,omitempty"`
	Relevance  search.Label `json:"relevance,omitempty"`
	Match      search.Match `json:"match,omitempty"`
}

// searchBody is the answer of GET /api/search; results are best first.
type searchBody struct {
	Results []searchHit `json:"results"`
	TookMS  float64     `json:"took_ms"`
	Mode    search.Mode `json:"mode"`
	Message string      `json:"message,omitempty"`
	// IndexReady is false while the search index is building: the results
	// then come from part of the catalog (Notice says so).
	IndexReady bool   `json:"index_ready"`
	Notice     string `json:"notice,omitempty"`
	// Total counts the results above min_score among the candidates;
	// Capped says there may be more beyond them; More that offset+k has a
	// next page; Weaker how many candidates min_score hid.
	Total    int           `json:"total"`
	Capped   bool          `json:"capped"`
	More     bool          `json:"more"`
	Weaker   int           `json:"weaker"`
	MinScore float64       `json:"min_score"`
	Lookup   search.Lookup `json:"lookup,omitempty"`
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) {
	if s.deps.Search == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "search is not configured on this server"})
		return
	}
	q, err := search.ParseQuery(r.URL.Query())
	if err != nil {
		s.writeSearchError(w, r, err)
		return
	}
	resp, err := s.search(r.Context(), q)
	if err != nil {
		s.writeSearchError(w, r, err)
		return
	}
	body := searchBody{Results: make([]searchHit, len(resp.Results)), Mode: q.Mode, Message: resp.Message,
		TookMS: float64(resp.Took.Microseconds()) / 1000, Total: resp.Total, Capped: resp.Capped, More: resp.More,
		Weaker: resp.Weaker, MinScore: resp.Floor, Lookup: resp.Lookup, IndexReady: resp.IndexReady}
	if !resp.IndexReady {
		body.Notice = search.IndexBuildingNotice
	}
	for i, res := range resp.Results {
		p := res.Product
		body.Results[i] = searchHit{ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description,
			Price: p.Price, Category: p.Category, Score: res.Score, Relevance: res.Label, Match: res.Match}
		if res.HasSimilarity {
			body.Results[i].Similarity = &res.Similarity
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// retryAfter is the Retry-After, in seconds, of a search over its budget.
const retryAfter = "10"

func (s *Server) writeSearchError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, search.ErrInvalid) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	if errors.Is(err, search.ErrUnavailable) {
		s.deps.Log.WarnContext(r.Context(), "search over its time budget", "err", err)
		w.Header().Set("Retry-After", retryAfter)
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "search could not answer in time (the search index may be building); try again shortly"})
		return
	}
	s.deps.Log.ErrorContext(r.Context(), "search failed", "err", err)
	writeJSON(w, http.StatusBadGateway, apiError{Error: "search is unavailable right now; try again in a moment"})
}
