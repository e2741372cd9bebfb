package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/product"
)

// maxBody bounds a product's JSON; the largest valid product is far smaller.
const maxBody = 64 << 10

// productPage is the body of GET /api/products.
type productPage struct {
	Products []product.Product `json:"products"`
	Total    int               `json:"total"`
	// TotalExact is false when Total is the planner's estimate (above
	// catalog.ExactCountLimit products).
	TotalExact bool `json:"total_exact"`
	Offset     int  `json:"offset"`
	Limit      int  `json:"limit"`
	// NextAfter is the `after` of the next page (paging by key, which
	// costs the same on every page); 0 on the last page.
	NextAfter int64 `json:"next_after,omitempty"`
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<31-1)
	if err != nil {
		s.writeError(w, r, badRequest("offset: %v", err))
		return
	}
	limit, err := intParam(q.Get("limit"), 50, 1, 500)
	if err != nil {
		s.writeError(w, r, badRequest("limit: %v", err))
		return
	}
	after, err := intParam(q.Get("after"), 0, 0, 1<<62)
	if err != nil {
		s.writeError(w, r, badRequest("after: %v", err))
		return
	}
	ps, total, err := s.deps.Catalog.List(r.Context(), catalog.ListOptions{Offset: offset, Limit: limit, Category: q.Get("category"), After: int64(after)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ps == nil {
		ps = []product.Product{}
	}
	page := productPage{Products: ps, Total: total, TotalExact: !catalog.TotalIsEstimate(total), Offset: offset, Limit: limit}
	if len(ps) == limit {
		page.NextAfter = ps[len(ps)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.deps.Catalog.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) {
	in, err := decodeProduct(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.deps.Catalog.Create(r.Context(), in.toProduct())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/products/"+strconv.FormatInt(p.ID, 10))
	writeJSON(w, http.StatusCreated, p)
}

func (s *Server) updateProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := decodeProduct(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := in.toProduct()
	p.ID = id
	p, err = s.deps.Catalog.Update(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) deleteProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.Catalog.Delete(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// productInput is what a client may send: every field is required on both
// POST and PUT (a PUT replaces the product), version optionally guards it.
type productInput struct {
	SKU         *string        `json:"sku"`
	Name        *string        `json:"name"`
	Description *string        `json:"description"`
	Price       *product.Price `json:"price"`
	Category    *string        `json:"category"`
	Version     int64          `json:"version"`
}

func (in productInput) toProduct() product.Product {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	p := product.Product{SKU: deref(in.SKU), Name: deref(in.Name), Description: deref(in.Description),
		Category: deref(in.Category), Version: in.Version}
	if in.Price != nil {
		p.Price = *in.Price
	}
	return p
}

// decodeProduct reads a JSON product strictly: unknown fields, trailing data,
// wrong types and a missing price are errors that name the field.
func decodeProduct(w http.ResponseWriter, r *http.Request) (productInput, error) {
	var in productInput
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return in, badRequest("content type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var typeErr *json.UnmarshalTypeError
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &typeErr):
			return in, product.ValidationError{{Field: typeErr.Field, Message: "has the wrong type"}}
		case errors.As(err, &tooBig):
			return in, badRequest("body is larger than %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return in, badRequest("body is empty; send a JSON product")
		case strings.Contains(err.Error(), "price"):
			return in, product.ValidationError{{Field: "price", Message: strings.TrimPrefix(err.Error(), "json: ")}}
		}
		return in, badRequest("body is not a valid product: %v", err)
	}
	if dec.More() {
		return in, badRequest("body has data after the product")
	}
	if in.Price == nil {
		p := in.toProduct()
		return in, validate(&p, product.ValidationError{{Field: "price", Message: "is required"}})
	}
	return in, nil
}

// validate normalizes p and adds its problems to those found while reading
// it (a price that is missing or does not parse), so that every problem is
// reported at once.
func validate(p *product.Product, found product.ValidationError) product.ValidationError {
	p.Normalize()
	if v, ok := product.AsValidation(p.Validate()); ok {
		found = append(found, v...)
	}
	return found
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("product id %q is not a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func intParam(s string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not an integer")
	}
	if n < min || n > max {
		return 0, errors.New("out of range " + strconv.Itoa(min) + " to " + strconv.Itoa(max))
	}
	return n, nil
}
