package serve

import (
	"context"
	"errors"
	"fmt"
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
	uiSearchK  = 50
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
		MinPrice: strings.TrimSpace(v.Get("min_price")), MaxPrice: strings.TrimSpace(v.Get("max_price")), Page: 1}
	if p, err := strconv.Atoi(v.Get("page")); err == nil && p > 1 {
		st.Page = p
	}
	return st
}

// results builds the table for a state: a ranked search, or a page of the
// catalog when there is no query.
func (s *Server) results(ctx context.Context, st web.State) (web.Results, error) {
	res := web.Results{State: st}
	if st.Searching() {
		if s.deps.Search == nil {
			res.Error = "Search is not configured on this server."
			return res, nil
		}
		v := st.Values()
		v.Set("k", strconv.Itoa(uiSearchK))
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
		for _, r := range resp.Results {
			res.Rows = append(res.Rows, web.Row{Product: r.Product, Score: r.Score, HasScore: true})
		}
		res.Total = len(res.Rows)
	} else {
		ps, total, err := s.deps.Catalog.List(ctx, catalog.ListOptions{Offset: (st.Page - 1) * pageSize, Limit: pageSize, Category: st.Category})
		if err != nil {
			return res, err
		}
		res.Total, res.TotalEstimated = total, catalog.TotalIsEstimate(total)
		res.Pages = max(1, (total+pageSize-1)/pageSize)
		for _, p := range ps {
			res.Rows = append(res.Rows, web.Row{Product: p})
		}
		switch {
		case total == 0 && st.Category != "":
			res.Message = "No products in category “" + st.Category + "”."
		case len(ps) == 0 && total > 0:
			res.Message = fmt.Sprintf("Page %d is past the end: there are %d pages.", st.Page, res.Pages)
		}
	}
	ids := make([]int64, len(res.Rows))
	for i, row := range res.Rows {
		ids[i] = row.Product.ID
	}
	states := s.syncStates(ctx, ids)
	for i := range res.Rows {
		res.Rows[i].Sync = states[res.Rows[i].Product.ID]
	}
	return res, nil
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
	if isHTMX(r) {
		// A search from the box: only the table changes, and the address
		// bar follows so that the search can be bookmarked.
		// The table's own reload after a create leaves the address alone.
		if r.Header.Get("HX-Trigger") != "results" {
			w.Header().Set("HX-Push-Url", st.URL())
		}
		s.render(w, r, http.StatusOK, web.ResultsTable(res, sess))
		return
	}
	cats, err := s.deps.Catalog.Categories(r.Context())
	if err != nil {
		s.deps.Log.WarnContext(r.Context(), "list categories", "err", err)
	}
	s.render(w, r, http.StatusOK, web.IndexPage(web.Index{Session: sess, Results: res, Categories: cats, Create: web.Form{Values: map[string]string{}}}))
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
			s.render(w, r, http.StatusOK, web.ProductRow(s.rowFor(r, updated), s.session(w, r)))
			return
		case errors.Is(err, catalog.ErrNotFound):
			w.WriteHeader(http.StatusOK) // gone: drop the row
			return
		case errors.Is(err, catalog.ErrConflict):
			f.Notice = "Someone else changed this product meanwhile. Cancel to see their version."
			s.render(w, r, http.StatusConflict, web.EditRow(f, s.rowFor(r, p)))
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
	s.render(w, r, http.StatusUnprocessableEntity, web.EditRow(f, s.rowFor(r, p)))
}

func (s *Server) removeProduct(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.deps.Catalog.Delete(r.Context(), id); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		s.deps.Log.ErrorContext(r.Context(), "delete product", "err", err, "product_id", id)
		http.Error(w, "delete failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK) // an empty answer replaces the row
}

func (s *Server) addProduct(w http.ResponseWriter, r *http.Request) {
	p, f, problems := formProduct(r)
	f.Open = true
	cats, _ := s.deps.Catalog.Categories(r.Context())
	if len(problems) == 0 {
		created, err := s.deps.Catalog.Create(r.Context(), p)
		if err == nil {
			w.Header().Set("HX-Trigger", "products-changed")
			s.render(w, r, http.StatusOK, web.CreateForm(web.Form{Open: true, Values: map[string]string{},
				Notice: fmt.Sprintf("Added “%s” (%s). It becomes searchable as soon as it is indexed.", created.Name, created.SKU)}, cats))
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
	s.render(w, r, http.StatusUnprocessableEntity, web.CreateForm(f, cats))
}
