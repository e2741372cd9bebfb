// Package web holds the HTML of the UI: templ components, their view models
// and the static assets (CSS and a vendored htmx), all embedded in the
// binary. It does no I/O; roles/serve fills the view models.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/url"
	"strconv"
	"strings"

	"github.com/refarch/refarch/product"
)

//go:embed static
var static embed.FS

// Assets returns the embedded assets under "static/", so that a file
// server mounted at /static/ serves them without stripping the prefix.
func Assets() fs.FS { return static }

// Session is what every page needs to know about the visitor.
type Session struct {
	// CSRF is sent back with every write (a header from htmx, a hidden
	// field in plain forms).
	CSRF string
	// AuthEnabled is true when an admin token protects writes.
	AuthEnabled bool
	// CanWrite is true when writes are open or the visitor signed in.
	CanWrite bool
}

// SignedIn reports whether the visitor holds a session (only meaningful
// with AuthEnabled).
func (s Session) SignedIn() bool { return s.AuthEnabled && s.CanWrite }

func (s Session) csrfHeaders() string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": s.CSRF})
	return string(b)
}

// State is the search box and filters, kept in the URL so a search can be
// bookmarked and shared.
type State struct {
	Q        string
	Hybrid   bool
	Category string
	MinPrice string
	MaxPrice string
	Page     int
}

// Searching reports whether a query was given (else the table is browsed).
func (s State) Searching() bool { return strings.TrimSpace(s.Q) != "" }

// Values encodes the state; empty fields are left out.
func (s State) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if strings.TrimSpace(val) != "" {
			v.Set(k, strings.TrimSpace(val))
		}
	}
	set("q", s.Q)
	if s.Hybrid {
		v.Set("mode", "hybrid")
	}
	set("category", s.Category)
	set("min_price", s.MinPrice)
	set("max_price", s.MaxPrice)
	if s.Page > 1 && !s.Searching() {
		v.Set("page", strconv.Itoa(s.Page))
	}
	return v
}

// URL is the canonical address of the state.
func (s State) URL() string {
	if enc := s.Values().Encode(); enc != "" {
		return "/?" + enc
	}
	return "/"
}

// PageURL is the address of another page of the same browse.
func (s State) PageURL(page int) string {
	s.Page = page
	return s.URL()
}

// Row is one product line of the table.
type Row struct {
	Product product.Product
	// Score is shown for search results only.
	Score    float64
	HasScore bool
	// Sync is "indexed", "indexing" or "failed"; empty when unknown.
	Sync string
}

// Results is the table part of the page, re-rendered on every search.
type Results struct {
	State   State
	Rows    []Row
	Message string // an empty answer's explanation
	// IndexNotice says that the search index is building and results may
	// be incomplete.
	IndexNotice string
	Error       string // a rejected query's explanation
	Total       int
	// TotalEstimated says Total is an estimate (a large catalog).
	TotalEstimated bool
	Pages          int
	TookMS         float64
}

// AnyIndexing reports whether a badge needs polling.
func (r Results) AnyIndexing() bool {
	for _, row := range r.Rows {
		if row.Sync == "indexing" {
			return true
		}
	}
	return false
}

// IDs lists the visible products, for the badge poller.
func (r Results) IDs() string {
	parts := make([]string, len(r.Rows))
	for i, row := range r.Rows {
		parts[i] = strconv.FormatInt(row.Product.ID, 10)
	}
	return strings.Join(parts, ",")
}

// Form is a product being created or edited, with the values as typed and
// the problems next to each field.
type Form struct {
	ID      int64
	Version int64
	Values  map[string]string
	Errors  map[string]string
	// Notice is a success line (after a create) or a general error.
	Notice string
	Open   bool
}

// FormFrom fills a form with a product's values.
func FormFrom(p product.Product) Form {
	return Form{ID: p.ID, Version: p.Version, Values: map[string]string{
		"sku": p.SKU, "name": p.Name, "description": p.Description,
		"price": p.Price.String(), "category": p.Category,
	}}
}

// Index is the products page.
type Index struct {
	Session    Session
	Results    Results
	Categories []string
	Create     Form
}

// Badges is the answer of the badge poller.
type Badges struct {
	IDs    string
	States map[int64]string
}

// Active reports whether the poller must keep polling.
func (b Badges) Active() bool {
	for _, s := range b.States {
		if s == "indexing" {
			return true
		}
	}
	return false
}

func price(p product.Price) string { return "$" + p.String() }

func score(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

func syncLabel(s string) string {
	switch s {
	case "indexed":
		return "indexed"
	case "indexing":
		return "indexing…"
	case "failed":
		return "failed"
	}
	return "unknown"
}

func syncTitle(s string) string {
	switch s {
	case "indexed":
		return "The search index has this version: its meaning is searchable."
	case "indexing":
		return "The search index is catching up with the latest edit."
	case "failed":
		return "Indexing this product failed; see the status page."
	}
	return "Sync state unknown."
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func fieldID(f Form, name string) string { return "p" + idStr(f.ID) + "-" + name }

func scoreParam(r Row) string {
	if !r.HasScore {
		return ""
	}
	return strconv.FormatFloat(r.Score, 'f', -1, 64)
}

func resultSummary(r Results) string {
	n := len(r.Rows)
	noun := "results"
	if n == 1 {
		noun = "result"
	}
	return strconv.Itoa(n) + " " + noun + " for “" + truncate(r.State.Q, 80) + "”, best first · " +
		strconv.FormatFloat(r.TookMS, 'f', 1, 64) + " ms"
}

func browseSummary(r Results) string {
	if r.Total == 0 {
		return "No products yet."
	}
	if r.TotalEstimated {
		return "About " + strconv.Itoa(r.Total) + " products"
	}
	return strconv.Itoa(r.Total) + " products"
}
