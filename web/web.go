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
	// Here is the page's own address, where "Sign in" returns to.
	Here string
}

// SignInURL is the sign-in page, coming back here afterwards.
func (s Session) SignInURL() string {
	if s.Here == "" || strings.HasPrefix(s.Here, "/login") {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(s.Here)
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
	// Sort orders the browsed table (catalog sorts); searches are ranked.
	Sort string
	// Weaker lifts the relevance floor (min_score=0).
	Weaker bool
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
	if s.Searching() && s.Weaker {
		v.Set("min_score", "0")
	}
	if !s.Searching() {
		set("sort", s.Sort)
	}
	if s.Page > 1 {
		v.Set("page", strconv.Itoa(s.Page))
	}
	return v
}

// SortURL is the address of the browse sorted by col, toggling the
// direction when it is already sorted by col.
func (s State) SortURL(col string) string {
	s.Page = 1
	if s.Sort == col {
		s.Sort = "-" + col
	} else {
		s.Sort = col
	}
	return s.URL()
}

// AriaSort is the aria-sort value of a column header.
func (s State) AriaSort(col string) string {
	switch s.Sort {
	case col:
		return "ascending"
	case "-" + col:
		return "descending"
	}
	return ""
}

// WeakerURL is the address of the same search with the floor lifted.
func (s State) WeakerURL() string {
	s.Weaker, s.Page = true, 1
	return s.URL()
}

// HasFilters reports whether a category or price filter is set.
func (s State) HasFilters() bool { return s.Category != "" || s.MinPrice != "" || s.MaxPrice != "" }

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
	// Score is the raw ranking score, shown for search results only, with
	// Label (strong, good, weak, keyword, exact) and the similarity.
	Score         float64
	HasScore      bool
	Similarity    float64
	HasSimilarity bool
	Label         string
	// Match is "exact_sku" or "exact_id" for a pinned exact match.
	Match string
	// Sync is "indexed", "indexing" or "failed"; empty when unknown.
	Sync string
	// New marks a product just added, shown first and highlighted.
	New bool
	// Ranked is set in a search's table, which has a relevance column.
	Ranked bool
}

// Results is the table part of the page, re-rendered on every search.
type Results struct {
	State   State
	Rows    []Row
	Message string // an empty answer's explanation
	// IndexNotice says that the search index is building and results may
	// be incomplete.
	IndexNotice string
	// TotalEstimated says Total is an estimate (a large catalog).
	TotalEstimated bool
	Error          string // a rejected query's explanation
	// FieldErrors are filter problems by field (min_price, max_price),
	// shown next to the fields.
	FieldErrors map[string]string
	Total       int
	Pages       int
	TookMS      float64
	// Search paging: Capped means Total counts only the candidates the
	// index returned; More that a next page exists; Weaker how many
	// results the relevance floor hid.
	Capped bool
	More   bool
	Weaker int
	// Lookup is "sku" or "id" when the query looks like one; Found when a
	// product has it.
	Lookup string
	Found  bool
	// PageSize is the number of rows a page holds.
	PageSize int
	// OOB renders the table for an out-of-band swap (after a create).
	OOB bool
	// Fragment marks an htmx answer: the filter errors beside the search
	// form come with it out of band.
	Fragment bool
	// CanWrite adds the actions column.
	CanWrite bool
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
	// Theirs is the version someone else saved meanwhile (an edit
	// conflict), shown beside what was typed.
	Theirs *product.Product
	// Categories are the existing ones, offered in a list.
	Categories []string
}

// Conflicts lists the fields where mine and theirs differ.
func (f Form) Conflicts() []Conflict {
	if f.Theirs == nil {
		return nil
	}
	theirs := FormFrom(*f.Theirs).Values
	var out []Conflict
	for _, k := range []string{"name", "sku", "category", "price", "description"} {
		if strings.TrimSpace(f.Values[k]) != strings.TrimSpace(theirs[k]) {
			out = append(out, Conflict{Field: k, Label: fieldLabels[k], Mine: f.Values[k], Theirs: theirs[k]})
		}
	}
	return out
}

// Conflict is one field of an edit conflict.
type Conflict struct{ Field, Label, Mine, Theirs string }

var fieldLabels = map[string]string{"name": "Name", "sku": "SKU", "category": "Category", "price": "Price", "description": "Description"}

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

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func fieldID(f Form, name string) string { return "p" + idStr(f.ID) + "-" + name }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

// thousands writes n with thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// resultSummary says how many results there are: a true count when the
// last page is in sight (fewer passed the floor than the index returned),
// else "top N".
func resultSummary(r Results) string {
	q := "“" + truncate(r.State.Q, 80) + "”"
	n := len(r.Rows)
	if n == 0 {
		return "No results for " + q
	}
	first := (r.State.Page-1)*r.PageSize + 1
	var s string
	switch {
	case r.Capped && r.State.Page == 1 && r.More:
		s = "Top " + strconv.Itoa(n) + " matches for " + q + ", best first"
	case r.State.Page > 1 || r.More:
		s = "Matches " + strconv.Itoa(first) + "–" + strconv.Itoa(first+n-1) + " for " + q + ", best first"
	default:
		noun := "close matches"
		if r.State.Weaker {
			noun = "matches"
		}
		if r.Total == 1 {
			noun = strings.TrimSuffix(noun, "es")
		}
		s = strconv.Itoa(r.Total) + " " + noun + " for " + q + ", best first"
	}
	return s + " · " + strconv.FormatFloat(r.TookMS, 'f', 0, 64) + " ms"
}

func browseSummary(r Results) string {
	if r.Total == 0 {
		if r.State.HasFilters() {
			return "No products match these filters."
		}
		return "No products yet."
	}
	s := plural(r.Total, "product", "products")
	if r.TotalEstimated {
		s = "About " + s
	}
	if r.State.HasFilters() {
		s += " match these filters"
	}
	if r.Pages > 1 {
		s += " · page " + strconv.Itoa(r.State.Page) + " of " + thousands(r.Pages)
	}
	return s
}

// labelText is what a person reads for a result's relevance.
func labelText(row Row) string {
	switch row.Match {
	case "exact_sku":
		return "Exact SKU"
	case "exact_id":
		return "Exact id"
	}
	switch row.Label {
	case "strong":
		return "Strong match"
	case "good":
		return "Good match"
	case "weak":
		return "Weak match"
	case "keyword":
		return "Keyword match"
	}
	return "Match"
}

// rawScore is the on-demand detail of a result's score.
func rawScore(row Row) string {
	var parts []string
	if row.HasSimilarity {
		parts = append(parts, "similarity "+strconv.FormatFloat(row.Similarity, 'f', 3, 64))
	}
	if row.HasScore && (!row.HasSimilarity || row.Score != row.Similarity) {
		parts = append(parts, "rank score "+strconv.FormatFloat(row.Score, 'f', 4, 64))
	}
	if len(parts) == 0 {
		return "not ranked: found by its SKU or id"
	}
	return strings.Join(parts, " · ")
}

// rowValues are what keep a row's score across edit, save and cancel, in
// the order the edit form carries them; nil for a row without a score.
func rowValues(r Row) [][2]string {
	if !r.HasScore && r.Match == "" {
		return nil
	}
	kv := [][2]string{{"score", strconv.FormatFloat(r.Score, 'f', -1, 64)}}
	if r.HasSimilarity {
		kv = append(kv, [2]string{"sim", strconv.FormatFloat(r.Similarity, 'f', -1, 64)})
	}
	kv = append(kv, [2]string{"label", r.Label})
	if r.Match != "" {
		kv = append(kv, [2]string{"match", r.Match})
	}
	return kv
}

// rowParams are rowValues as a query string.
func rowParams(r Row) string {
	kv := rowValues(r)
	if kv == nil {
		return ""
	}
	v := url.Values{}
	for _, p := range kv {
		v.Set(p[0], p[1])
	}
	return "?" + v.Encode()
}

func editColumns(row Row) string {
	n := 6
	if row.HasScore || row.Match != "" {
		n++
	}
	return strconv.Itoa(n)
}

func invalidFields(r Results) string {
	var out []string
	for _, k := range []string{"min_price", "max_price"} {
		if r.FieldErrors[k] != "" {
			out = append(out, k)
		}
	}
	return strings.Join(out, " ")
}

func lookupName(l string) string {
	if l == "id" {
		return "a product id"
	}
	return "a SKU"
}

func lookupFilterHint(r Results) string {
	if r.State.HasFilters() {
		return " among the filtered products"
	}
	return ""
}

func sortMark(s State, col string) string {
	switch s.Sort {
	case col:
		return " ▲"
	case "-" + col:
		return " ▼"
	}
	return ""
}

func scoreClass(r Row) string {
	if r.Match != "" {
		return "exact"
	}
	if r.Label == "" {
		return "unrated"
	}
	return r.Label
}

// boolStr spells an ARIA state: a bare aria-invalid attribute reads as
// false to assistive technology, so it is always "true" or "false".
func boolStr(b bool) string { return strconv.FormatBool(b) }

// sortOptions are the browse orders offered in the filters (the column
// headers sort too, but phones do not show them).
var sortOptions = [][2]string{
	{"", "Oldest first"}, {"newest", "Newest first"}, {"name", "Name A–Z"}, {"-name", "Name Z–A"},
	{"price", "Price, low to high"}, {"-price", "Price, high to low"}, {"sku", "SKU"}, {"category", "Category"},
}
