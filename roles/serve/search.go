package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/search"
)

// Searcher answers ranked queries (search.Service).
type Searcher interface {
	Search(ctx context.Context, q search.Query) (search.Response, error)
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
}

// searchBody is the answer of GET /api/search; results are best first.
type searchBody struct {
	Results []searchHit `json:"results"`
	TookMS  float64     `json:"took_ms"`
	Mode    search.Mode `json:"mode"`
	Message string      `json:"message,omitempty"`
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
	resp, err := s.deps.Search.Search(r.Context(), q)
	if err != nil {
		s.writeSearchError(w, r, err)
		return
	}
	body := searchBody{Results: make([]searchHit, len(resp.Results)), Mode: q.Mode, Message: resp.Message,
		TookMS: float64(resp.Took.Microseconds()) / 1000}
	for i, res := range resp.Results {
		p := res.Product
		body.Results[i] = searchHit{ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description,
			Price: p.Price, Category: p.Category, Score: res.Score}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) writeSearchError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, search.ErrInvalid) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.deps.Log.ErrorContext(r.Context(), "search failed", "err", err)
	writeJSON(w, http.StatusBadGateway, apiError{Error: "search is unavailable right now; try again in a moment"})
}
