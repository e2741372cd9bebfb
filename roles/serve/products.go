package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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
	if in.ID != nil {
		s.writeError(w, r, idError("is assigned by the server; leave it out of a POST"))
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

// updateProduct replaces a product. It accepts the body GET returned, with
// any fields changed: an id must match the path, timestamps are ignored and
// version, when given, guards against lost updates (409).
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
	s.update(w, r, id, in)
}

// patchProduct applies a JSON Merge Patch (RFC 7396) to a product: members
// present replace the product's, null removes one (a required field then
// fails validation), members absent stay. The patched product is validated
// and written like a PUT; without a version in the patch the version read
// here guards the write, so a change made meanwhile is a 409, never lost.
func (s *Server) patchProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	patch, err := readBody(w, r, "application/merge-patch+json")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if p := bytes.TrimSpace(patch); len(p) == 0 || p[0] != '{' {
		s.writeError(w, r, badRequest("body must be a JSON object of the fields to change (a JSON merge patch)"))
		return
	}
	cur, err := s.deps.Catalog.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := json.Marshal(cur)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode product %d: %w", id, err))
		return
	}
	merged, err := mergePatch(doc, patch)
	if err != nil {
		s.writeError(w, r, badRequest("body is not a JSON merge patch: %v", err))
		return
	}
	in, err := parseProduct(merged)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.update(w, r, id, in)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, id int64, in productInput) {
	if in.ID != nil && *in.ID != id {
		s.writeError(w, r, idError(fmt.Sprintf("is %d but the path names product %d", *in.ID, id)))
		return
	}
	p := in.toProduct()
	p.ID = id
	p, err := s.deps.Catalog.Update(r.Context(), p)
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
// The read-only fields of a GET's body are accepted so that a client can
// send back what it read: id is checked against the path, the timestamps
// are ignored.
type productInput struct {
	ID          *int64          `json:"id"`
	SKU         *string         `json:"sku"`
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Price       *product.Price  `json:"price"`
	Category    *string         `json:"category"`
	Version     int64           `json:"version"`
	CreatedAt   json.RawMessage `json:"created_at"`
	UpdatedAt   json.RawMessage `json:"updated_at"`
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

// idError is a 400 about the id field.
type idError string

func (e idError) Error() string { return "id: " + string(e) }

// readBody reads a request body of at most maxBody bytes whose content type,
// if given, is JSON or one of also.
func readBody(w http.ResponseWriter, r *http.Request, also ...string) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") &&
		!slices.ContainsFunc(also, func(a string) bool { return strings.HasPrefix(ct, a) }) {
		return nil, badRequest("content type must be application/json%s", strings.Join(append([]string{""}, also...), " or "))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, badRequest("body is larger than %d bytes", maxBody)
	}
	if err != nil {
		return nil, badRequest("read body: %v", err)
	}
	return body, nil
}

// decodeProduct reads a JSON product strictly: unknown fields, trailing data,
// wrong types and a missing price are errors that name the field.
func decodeProduct(w http.ResponseWriter, r *http.Request) (productInput, error) {
	body, err := readBody(w, r)
	if err != nil {
		return productInput{}, err
	}
	return parseProduct(body)
}

func parseProduct(body []byte) (productInput, error) {
	var in productInput
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return in, product.ValidationError{{Field: typeErr.Field, Message: "has the wrong type"}}
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
