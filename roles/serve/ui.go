package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/web"
)

// Paging and search sizes of the UI.
const (
	pageSize   = 25
	maxBadgeID = 200
)

// SyncStates reports each product's sync badge: "indexed", "indexing" or
// "failed" (status.ProductStates).
type SyncStates func(ctx context.Context, ids []int64) (map[int64]string, error)

func (s *Server) uiRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /static/", cacheStatic(http.FileServerFS(web.Assets())))
	s.handle(mux, "GET /{$}", s.index)
	s.handle(mux, "GET /login", s.loginPage)
	s.handle(mux, "POST /login", s.login)
	s.handle(mux, "POST /logout", s.logout)
	s.handle(mux, "GET /ui/badges", s.badges)
	s.handle(mux, "GET /ui/products/{id}/row", s.rowFragment)
	s.handle(mux, "GET /ui/products/{id}/edit", s.requireUIWrite(s.editFragment))
	s.handle(mux, "POST /ui/products/{id}", s.requireUIWrite(s.saveProduct))
	s.handle(mux, "POST /ui/products/{id}/delete", s.requireUIWrite(s.removeProduct))
	s.handle(mux, "POST /ui/products", s.requireUIWrite(s.addProduct))
	s.handle(mux, "POST /ui/products/restore", s.requireUIWrite(s.restoreProduct))
	s.handle(mux, "GET /favicon.ico", s.favicon)
}

// favicon answers browsers that ask for /favicon.ico whatever the page says.
func (s *Server) favicon(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(web.Assets(), "static/favicon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// render writes a component; the page is built in memory first so that a
// failure can still become a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, c templ.Component) {
	var b strings.Builder
	if err := c.Render(r.Context(), &b); err != nil {
		s.deps.Log.ErrorContext(r.Context(), "render page", "err", err, "path", r.URL.Path)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("X-Frame-Options", "DENY")
	// Scripts only from this server; htmx evaluates its trigger filters
	// (hx-trigger="keydown[key=='Enter']"), hence unsafe-eval.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	w.WriteHeader(code)
	w.Write([]byte(b.String()))
}

func stateFrom(v url.Values) web.State {
	st := web.State{Q: strings.TrimSpace(v.Get("q")), Hybrid: v.Get("mode") == "hybrid", Category: strings.TrimSpace(v.Get("category")),
		MinPrice: strings.TrimSpace(v.Get("min_price")), MaxPrice: strings.TrimSpace(v.Get("max_price")), Page: 1,
		Weaker: v.Get("min_score") == "0"}
	if p, err := strconv.Atoi(v.Get("page")); err == nil && p > 1 {
		st.Page = p
	}
	if sort := v.Get("sort"); catalog.ValidSort(sort) {
		st.Sort = sort
	}
	return st
}

// priceFilters reads the price filters of the UI, with each problem in
// people's words next to its field.
func priceFilters(st web.State) (lo, hi *float64, errs map[string]string) {
	errs = map[string]string{}
	read := func(name, label, val string) *float64 {
		if val == "" {
			return nil
		}
		p, err := product.ParsePrice(val)
		if err != nil || p < 0 {
			errs[name] = label + " must be an amount like 19.99."
			return nil
		}
		f := p.Float()
		return &f
	}
	lo = read("min_price", "Min price", st.MinPrice)
	hi = read("max_price", "Max price", st.MaxPrice)
	if lo != nil && hi != nil && *lo > *hi {
		errs["min_price"] = "Min price must not be more than max price."
	}
	return lo, hi, errs
}

// results builds the table for a state: a ranked search, or a page of the
// catalog when there is no query.
func (s *Server) results(ctx context.Context, st web.State) (web.Results, error) {
	res := web.Results{State: st, PageSize: pageSize}
	lo, hi, ferrs := priceFilters(st)
	if len(ferrs) > 0 {
		res.FieldErrors = ferrs
		res.Error = "Fix the price filter to see products."
		return res, nil
	}
	if st.Searching() {
		if s.deps.Search == nil {
			res.Error = "Search is not configured on this server."
			return res, nil
		}
		if (st.Page-1)*pageSize+pageSize > search.MaxWindow {
			res.Error = fmt.Sprintf("Search results go %d deep; refine the search to see others.", search.MaxWindow)
			return res, nil
		}
		v := st.Values()
		v.Del("page")
		v.Set("k", strconv.Itoa(pageSize))
		v.Set("offset", strconv.Itoa((st.Page-1)*pageSize))
		q, err := search.ParseQuery(v)
		var resp search.Response
		if err == nil {
			resp, err = s.search(ctx, q)
		}
		if errors.Is(err, search.ErrInvalid) {
			res.Error = strings.TrimPrefix(err.Error(), search.ErrInvalid.Error()+": ")
			return res, nil
		}
		if errors.Is(err, search.ErrUnavailable) {
			s.deps.Log.WarnContext(ctx, "search over its time budget", "err", err)
			res.Error = "Search could not answer in time (the search index may be building). Try again in a moment."
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.Message = resp.Message
		if !resp.IndexReady {
			res.IndexNotice = search.IndexBuildingNotice
		}
		res.TookMS = float64(resp.Took.Microseconds()) / 1000
		res.Total, res.Capped, res.More, res.Weaker = resp.Total, resp.Capped, resp.More, resp.Weaker
		res.Lookup, res.Found = string(resp.Lookup), resp.Found
		for _, r := range resp.Results {
			res.Rows = append(res.Rows, web.Row{Product: r.Product, Score: r.Score, HasScore: r.Match == search.MatchRanked || r.Score != 0,
				Similarity: r.Similarity, HasSimilarity: r.HasSimilarity, Label: string(r.Label), Match: string(r.Match)})
		}
	} else {
		ps, total, err := s.deps.Catalog.List(ctx, catalog.ListOptions{Offset: (st.Page - 1) * pageSize, Limit: pageSize,
			Category: st.Category, MinPrice: lo, MaxPrice: hi, Sort: st.Sort})
		if err != nil {
			return res, err
		}
		res.Total, res.TotalEstimated = total, catalog.TotalIsEstimate(total)
		res.Pages = max(1, (total+pageSize-1)/pageSize)
		for _, p := range ps {
			res.Rows = append(res.Rows, web.Row{Product: p})
		}
		switch {
		case total == 0 && st.HasFilters():
			res.Message = "No products match these filters; widen the price range or pick another category."
		case len(ps) == 0 && total > 0:
			res.Message = fmt.Sprintf("Page %d is past the end: there are %d pages.", st.Page, res.Pages)
		}
	}
	s.fillBadges(ctx, res.Rows)
	return res, nil
}

// fillBadges sets each row's sync badge.
func (s *Server) fillBadges(ctx context.Context, rows []web.Row) {
	ids := make([]int64, len(rows))
	for i, row := range rows {
		ids[i] = row.Product.ID
	}
	states := s.syncStates(ctx, ids)
	for i := range rows {
		rows[i].Sync = states[rows[i].Product.ID]
	}
}

// syncStates looks up badges; a failure only hides them, it does not fail
// the page.
func (s *Server) syncStates(ctx context.Context, ids []int64) map[int64]string {
	if s.deps.SyncStates == nil || len(ids) == 0 {
		return nil
	}
	states, err := s.deps.SyncStates(ctx, ids)
	if err != nil {
		s.deps.Log.WarnContext(ctx, "look up sync states", "err", err)
		return nil
	}
	return states
}

func isHTMX(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	sess := s.session(w, r)
	st := stateFrom(r.URL.Query())
	res, err := s.results(r.Context(), st)
	if err != nil {
		s.deps.Log.ErrorContext(r.Context(), "build results", "err", err)
		res.Error = "Something went wrong while loading products; try again in a moment."
	}
	res.CanWrite = sess.CanWrite
	if isHTMX(r) {
		// A search from the box: only the table changes, and the address
		// bar follows so that the search can be bookmarked. Typing replaces
		// the history entry; a finished search (Enter, a filter, a page)
		// adds one, so Back does not step through half-typed queries.
		// The table's own reload after a change leaves the address alone.
		switch {
		case r.Header.Get("HX-Trigger") == "results":
		case r.Header.Get("HX-Trigger") == "q": // typing; Enter submits the form
			w.Header().Set("HX-Replace-Url", st.URL())
		default:
			w.Header().Set("HX-Push-Url", st.URL())
		}
		res.Fragment = true
		s.render(w, r, http.StatusOK, web.ResultsTable(res, sess))
		return
	}
	cats, err := s.deps.Catalog.Categories(r.Context())
	if err != nil {
		s.deps.Log.WarnContext(r.Context(), "list categories", "err", err)
	}
	s.render(w, r, http.StatusOK, web.IndexPage(web.Index{Session: sess, Results: res, Categories: cats, Create: web.Form{Values: map[string]string{}, Errors: map[string]string{}}}))
}

func (s *Server) badges(w http.ResponseWriter, r *http.Request) {
	var ids []int64
	var parts []string
	for _, f := range strings.Split(r.URL.Query().Get("ids"), ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			continue
		}
		ids = append(ids, id)
		parts = append(parts, strconv.FormatInt(id, 10))
		if len(ids) == maxBadgeID {
			break
		}
	}
	states := s.syncStates(r.Context(), ids)
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, web.BadgeUpdate(web.Badges{IDs: strings.Join(parts, ","), States: states}))
}

// rowFor renders a product's read-only row with its badge.
func (s *Server) rowFor(r *http.Request, p product.Product) web.Row {
	row := web.Row{Product: p, Sync: s.syncStates(r.Context(), []int64{p.ID})[p.ID]}
	if sc := r.FormValue("score"); sc != "" {
		if f, err := strconv.ParseFloat(sc, 64); err == nil {
			row.Score, row.HasScore = f, true
		}
	}
	if sc := r.FormValue("sim"); sc != "" {
		if f, err := strconv.ParseFloat(sc, 64); err == nil {
			row.Similarity, row.HasSimilarity = f, true
		}
	}
	row.Label = r.FormValue("label")
	if m := r.FormValue("match"); m == string(search.MatchSKU) || m == string(search.MatchID) {
		row.Match = m
	}
	return row
}

func (s *Server) rowFragment(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadForUI(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, web.ProductRow(s.rowFor(r, p), s.session(w, r)))
}

func (s *Server) editFragment(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadForUI(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, web.EditRow(web.FormFrom(p), s.rowFor(r, p)))
}

func (s *Server) loadForUI(w http.ResponseWriter, r *http.Request) (product.Product, bool) {
	id, err := pathID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return product.Product{}, false
	}
	p, err := s.deps.Catalog.Get(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		// Deleted meanwhile: the row goes away.
		w.WriteHeader(http.StatusOK)
		return p, false
	}
	if err != nil {
		s.deps.Log.ErrorContext(r.Context(), "load product", "err", err, "product_id", id)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return p, false
	}
	return p, true
}

// formProduct reads a product from form fields; a price that does not parse
// is reported with the other problems.
func formProduct(r *http.Request) (product.Product, web.Form, product.ValidationError) {
	f := web.Form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, k := range []string{"sku", "name", "description", "price", "category"} {
		f.Values[k] = r.PostFormValue(k)
	}
	// The create form offers the existing categories and "New category…",
	// so that a typo does not make a new category by accident.
	if f.Values["category"] == newCategory {
		f.Values["category"] = strings.TrimSpace(r.PostFormValue("new_category"))
	}
	p := product.Product{SKU: f.Values["sku"], Name: f.Values["name"], Description: f.Values["description"], Category: f.Values["category"]}
	var problems product.ValidationError
	price, err := product.ParsePrice(f.Values["price"])
	if err != nil {
		problems = append(problems, product.FieldError{Field: "price", Message: "must be an amount like 19.99"})
	} else {
		p.Price = price
	}
	problems = validate(&p, problems)
	return p, f, problems
}

func setErrors(f *web.Form, v product.ValidationError) {
	for _, e := range v {
		if f.Errors[e.Field] == "" {
			f.Errors[e.Field] = fieldLabel(e.Field) + " " + e.Message + "."
		}
	}
}

func fieldLabel(field string) string {
	switch field {
	case "sku":
		return "SKU"
	case "":
		return "Value"
	}
	return strings.ToUpper(field[:1]) + field[1:]
}

// newCategory is the create form's "New category…" choice.
const newCategory = "__new"

// The UI answers rejected edits with 200 and the form with its problems
// (the API keeps 422 and 409): an expected outcome is not a failed request
// in the browser's console. X-Refarch-Outcome tells tests and scripts.
const outcomeHeader = "X-Refarch-Outcome"

func (s *Server) saveProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, f, problems := formProduct(r)
	p.ID, f.ID = id, id
	p.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	f.Version = p.Version
	if len(problems) == 0 {
		updated, err := s.deps.Catalog.Update(r.Context(), p)
		switch {
		case err == nil:
			w.Header().Set("HX-Trigger", "sync-changed")
			w.Header().Set(outcomeHeader, "saved")
			s.render(w, r, http.StatusOK, web.ProductRow(s.rowFor(r, updated), s.session(w, r)))
			return
		case errors.Is(err, catalog.ErrNotFound):
			w.Header().Set(outcomeHeader, "gone")
			w.WriteHeader(http.StatusOK) // gone: drop the row
			return
		case errors.Is(err, catalog.ErrConflict):
			theirs, gerr := s.deps.Catalog.Get(r.Context(), id)
			if errors.Is(gerr, catalog.ErrNotFound) {
				w.Header().Set(outcomeHeader, "gone")
				w.WriteHeader(http.StatusOK)
				return
			}
			if gerr != nil {
				s.deps.Log.ErrorContext(r.Context(), "load product after a conflict", "err", gerr, "product_id", id)
				http.Error(w, "Not saved: something went wrong. The product is unchanged.", http.StatusInternalServerError)
				return
			}
			// Keep mine saves over their version; Use theirs shows it.
			f.Theirs, f.Version = &theirs, theirs.Version
			w.Header().Set(outcomeHeader, "conflict")
			s.render(w, r, http.StatusOK, web.EditRow(f, s.rowFor(r, theirs)))
			return
		}
		var ok bool
		if problems, ok = product.AsValidation(err); !ok {
			s.deps.Log.ErrorContext(r.Context(), "save product", "err", err, "product_id", id)
			http.Error(w, "Not saved: something went wrong. The product is unchanged.", http.StatusInternalServerError)
			return
		}
	}
	setErrors(&f, problems)
	f.Notice = "Not saved: fix the marked fields. The product is unchanged."
	w.Header().Set(outcomeHeader, "invalid")
	s.render(w, r, http.StatusOK, web.EditRow(f, s.rowFor(r, p)))
}

// removeProduct deletes at once and leaves an Undo in the row's place: no
// confirmation dialog, and a mistake costs one click.
func (s *Server) removeProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, err := s.deps.Catalog.Get(r.Context(), id)
	if err == nil {
		err = s.deps.Catalog.Delete(r.Context(), id)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		w.WriteHeader(http.StatusOK) // already gone: the row goes
		return
	}
	if err != nil {
		s.deps.Log.ErrorContext(r.Context(), "delete product", "err", err, "product_id", id)
		http.Error(w, "delete failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("HX-Trigger", "product-deleted")
	f := web.FormFrom(p)
	s.render(w, r, http.StatusOK, web.DeletedRow(f, "7"))
}

// restoreProduct is Undo after a delete: the product comes back with its
// values (under a new id), and the index follows like any edit.
func (s *Server) restoreProduct(w http.ResponseWriter, r *http.Request) {
	p, _, problems := formProduct(r)
	if len(problems) > 0 {
		http.Error(w, "undo failed: "+problems.Error(), http.StatusBadRequest)
		return
	}
	created, err := s.deps.Catalog.Create(r.Context(), p)
	if err != nil {
		if v, ok := product.AsValidation(err); ok {
			// The SKU was taken meanwhile.
			http.Error(w, "undo failed: "+v.Error(), http.StatusConflict)
			return
		}
		s.deps.Log.ErrorContext(r.Context(), "restore product", "err", err)
		http.Error(w, "undo failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("HX-Trigger", "product-restored, sync-changed")
	row := s.rowFor(r, created)
	row.New = true
	s.render(w, r, http.StatusOK, web.ProductRow(row, s.session(w, r)))
}

func (s *Server) addProduct(w http.ResponseWriter, r *http.Request) {
	p, f, problems := formProduct(r)
	f.Open = true
	cats, _ := s.deps.Catalog.Categories(r.Context())
	if len(problems) == 0 {
		created, err := s.deps.Catalog.Create(r.Context(), p)
		if err == nil {
			cats, _ = s.deps.Catalog.Categories(r.Context())
			w.Header().Set(outcomeHeader, "created")
			w.Header().Set("HX-Trigger", "sync-changed")
			s.render(w, r, http.StatusOK, templ.Join(
				web.CreateForm(web.Form{Open: true, Values: map[string]string{}, Errors: map[string]string{},
					Notice: fmt.Sprintf("Added “%s” (%s). It is first in the table below and becomes searchable as soon as it is indexed.", created.Name, created.SKU)}, cats),
				web.ResultsTable(s.withNew(r, created), s.session(w, r))))
			return
		}
		v, ok := product.AsValidation(err)
		if !ok {
			s.deps.Log.ErrorContext(r.Context(), "create product", "err", err)
			http.Error(w, "create failed", http.StatusInternalServerError)
			return
		}
		problems = v
	}
	setErrors(&f, problems)
	w.Header().Set(outcomeHeader, "invalid")
	s.render(w, r, http.StatusOK, web.CreateForm(f, cats))
}

// withNew is the table the editor was looking at with the new product
// first, highlighted, whatever the sort or page: otherwise it would vanish
// onto a later page.
func (s *Server) withNew(r *http.Request, created product.Product) web.Results {
	st := web.State{Page: 1}
	if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil {
		st = stateFrom(u.Query())
	}
	res, err := s.results(r.Context(), st)
	if err != nil {
		s.deps.Log.WarnContext(r.Context(), "reload results after create", "err", err)
		res = web.Results{State: st, PageSize: pageSize}
	}
	rows := []web.Row{{Product: created, New: true, Ranked: st.Searching()}}
	for _, row := range res.Rows {
		if row.Product.ID != created.ID {
			rows = append(rows, row)
		}
	}
	s.fillBadges(r.Context(), rows[:1])
	res.Rows, res.OOB, res.Fragment = rows, true, true
	res.Message, res.Error = "", ""
	res.CanWrite = true
	return res
}
