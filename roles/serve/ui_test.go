package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/roles/serve"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// uiEnv is a serve role on a real database with a directly driven index.
type uiEnv struct {
	url   string
	pool  *pgxpool.Pool
	cat   *catalog.Store
	emb   embedding.Embedder
	store *pgvectorstore.Store
}

func newUI(t *testing.T, token string) uiEnv {
	t.Helper()
	pool := pgtest.New(t)
	return newUIOn(t, pool, token, embedding.NewHash(256))
}

func newUIOn(t testing.TB, pool *pgxpool.Pool, token string, emb embedding.Embedder) uiEnv {
	t.Helper()
	return newUIWith(t, pool, token, emb, nil)
}

// newUIWith is newUIOn with the status page's index actions (app wires
// them; see app's TestIndexActionsFromTheStatusPage).
func newUIWith(t testing.TB, pool *pgxpool.Pool, token string, emb embedding.Embedder, index serve.IndexAdmin) uiEnv {
	t.Helper()
	store, err := pgvectorstore.New(context.Background(), pool, emb.Model(), emb.Dimension())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.NewStore(pool)
	srv := serve.New(serve.Config{AdminToken: token}, serve.Deps{
		Catalog:  cat,
		Log:      slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Ready:    func(ctx context.Context) error { return pool.Ping(ctx) },
		Search: search.New(emb, store, cat, search.NewPGFullText(pool, 0)).
			WithRecent(recentvectors.NewScanner(pool, emb.Model(), recentvectors.Options{})), // as app wires it
		SyncStates: testStates(pool, emb.Model()),
		Index:      index,
		Status: func(ctx context.Context) (serve.Status, error) {
			st, err := status.Get(ctx, pool, nil, emb.Model())
			return serve.Status{Products: st.Products, Indexed: st.Indexed, Stale: st.Stale, Missing: st.Missing,
				Outbox: st.Outbox, LagSeconds: st.OldestUnindexedAgeSeconds, Model: emb.Model(), VectorStore: store.Name()}, err
		},
	})
	// The real server on a loopback port, as a browser would reach it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return uiEnv{url: "http://" + ln.Addr().String(), pool: pool, cat: cat, emb: emb, store: store}
}

// testStates reads badges the way app wires them.
func testStates(pool *pgxpool.Pool, model string) serve.SyncStates {
	return func(ctx context.Context, ids []int64) (map[int64]string, error) {
		return status.ProductStates(ctx, pool, model, ids)
	}
}

// indexAll plays emu: it brings the index up to date with the table.
func (e uiEnv) indexAll(t testing.TB) {
	t.Helper()
	if err := e.indexOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e uiEnv) indexOnce(ctx context.Context) error {
	rows, err := e.pool.Query(ctx, `SELECT `+catalog.Columns+` FROM products p
		WHERE NOT EXISTS (SELECT 1 FROM index_state s WHERE s.model = $1 AND s.product_id = p.id AND s.version >= p.version)`, e.emb.Model())
	if err != nil {
		return err
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (product.Product, error) { return catalog.Scan(r) })
	if err != nil {
		return err
	}
	for _, p := range ps {
		vec, err := e.emb.Embed(ctx, []string{p.EmbedText()})
		if err != nil {
			return err
		}
		hash := product.ContentHash(p.EmbedText())
		if err := e.store.Upsert(ctx, []vectorstore.Vector{{ID: vectormeta.VectorID(p.ID), Values: vec[0], Meta: vectormeta.Metadata{
			ProductID: p.ID, Version: p.Version, ContentHash: hash, Model: e.emb.Model(), Category: p.Category, Price: p.Price.Float()}}}); err != nil {
			return err
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO index_state (model, product_id, version, content_hash, changed_at)
			VALUES ($1, $2, $3, $4, now()) ON CONFLICT (model, product_id) DO UPDATE SET version = EXCLUDED.version,
			content_hash = EXCLUDED.content_hash, indexed_at = now()`, e.emb.Model(), p.ID, p.Version, hash); err != nil {
			return err
		}
	}
	return nil
}

func (e uiEnv) add(t testing.TB, ps ...product.Product) []product.Product {
	t.Helper()
	var out []product.Product
	for _, p := range ps {
		c, err := e.cat.Create(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestIndexPaginatesAndEscapes(t *testing.T) {
	t.Parallel()
	e := newUI(t, "")
	var ps []product.Product
	for i := range 30 {
		ps = append(ps, product.Product{SKU: fmt.Sprintf("SKU-%02d", i), Name: fmt.Sprintf("Product %02d", i), Description: "plain", Price: 100, Category: "misc"})
	}
	ps[0].Name = `<script>alert(1)</script>`
	e.add(t, ps...)
	code, body, _ := get(t, http.DefaultClient, e.url+"/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{"30 products", "Page 1 of 2", "SKU-01", `href="/?page=2"`, "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("product name rendered unescaped")
	}
	if strings.Contains(body, "SKU-29") {
		t.Error("page 1 shows a product of page 2")
	}
	_, body, _ = get(t, http.DefaultClient, e.url+"/?page=9")
	if !strings.Contains(body, "Page 9 is past the end: there are 2 pages.") {
		t.Error("a page past the end is not explained")
	}
	_, body, _ = get(t, http.DefaultClient, e.url+"/?page=2")
	if !strings.Contains(body, "SKU-29") || strings.Contains(body, "SKU-01<") || !strings.Contains(body, "Page 2 of 2") {
		t.Error("page 2 is not the second page")
	}
}

func TestSearchPageRendersWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e := newUI(t, "")
	e.add(t, product.Product{SKU: "K1", Name: "Electric kettle", Description: "boils water fast", Price: 2999, Category: "kitchen"},
		product.Product{SKU: "R1", Name: "Tennis racket", Description: "graphite racket", Price: 9000, Category: "sports"})
	e.indexAll(t)
	_, body, _ := get(t, http.DefaultClient, e.url+"/?q=kettle+boils+water")
	k, r := strings.Index(body, "Electric kettle"), strings.Index(body, "Tennis racket")
	if k < 0 || (r >= 0 && r < k) {
		t.Fatalf("kettle not ranked first (kettle at %d, racket at %d)", k, r)
	}
	if !strings.Contains(body, `value="kettle boils water"`) || !strings.Contains(body, "Relevance") {
		t.Error("search page lacks the query in the box or the relevance column")
	}
	// htmx asks for the table only, and is told the address to show.
	_, frag, hdr := get(t, http.DefaultClient, e.url+"/?q=kettle&min_price=&mode=", "HX-Request", "true", "HX-Trigger", "q")
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="results"`) {
		t.Error("htmx request did not get the results fragment")
	}
	// Typing replaces the history entry; a finished search adds one.
	if got, push := hdr.Get("HX-Replace-Url"), hdr.Get("HX-Push-Url"); got != "/?q=kettle" || push != "" {
		t.Errorf("while typing: HX-Replace-Url = %q, HX-Push-Url = %q; want /?q=kettle replaced", got, push)
	}
	_, _, hdr = get(t, http.DefaultClient, e.url+"/?q=kettle", "HX-Request", "true", "HX-Trigger", "search")
	if got := hdr.Get("HX-Push-Url"); got != "/?q=kettle" {
		t.Errorf("after Enter: HX-Push-Url = %q, want /?q=kettle", got)
	}
	_, body, _ = get(t, http.DefaultClient, e.url+"/?q=kettle&min_price=9&max_price=1")
	if !strings.Contains(body, `<p class="field-error" id="min_price-error">Min price must not be more than max price.</p>`) ||
		!strings.Contains(body, `id="min_price" name="min_price" inputmode="decimal" value="9" size="7" aria-invalid="true"`) {
		t.Error("bad filter not explained next to its field")
	}
	_, body, _ = get(t, http.DefaultClient, e.url+"/?min_price=abc")
	if !strings.Contains(body, "Min price must be an amount like 19.99.") {
		t.Error("bad browse filter not explained")
	}
}

func TestAPISearch(t *testing.T) {
	t.Parallel()
	e := newUI(t, "")
	e.add(t, product.Product{SKU: "K1", Name: "Electric kettle", Description: "boils water fast", Price: 2999, Category: "kitchen"},
		product.Product{SKU: "R1", Name: "Tennis racket", Description: "graphite racket", Price: 9000, Category: "sports"},
		product.Product{SKU: "B1", Name: "Tennis balls", Description: "three balls", Price: 500, Category: "sports"})
	e.indexAll(t)
	var body struct {
		Results []struct {
			ID    int64   `json:"id"`
			SKU   string  `json:"sku"`
			Score float64 `json:"score"`
			Price float64 `json:"price"`
		} `json:"results"`
		TookMS  *float64 `json:"took_ms"`
		Message string   `json:"message"`
		Error   string   `json:"error"`
	}
	decode := func(raw string) int {
		body.Results, body.Message, body.Error = nil, "", ""
		code, b, _ := get(t, http.DefaultClient, e.url+"/api/search?"+raw)
		if err := json.Unmarshal([]byte(b), &body); err != nil {
			t.Fatalf("%s: %v in %s", raw, err, b)
		}
		return code
	}
	// min_score=-1 lifts the relevance floor, so all three come back.
	if code := decode("q=tennis+racket&k=3&min_score=-1"); code != 200 {
		t.Fatalf("search = %d %s", code, body.Error)
	}
	if len(body.Results) != 3 || body.Results[0].SKU != "R1" || body.TookMS == nil {
		t.Fatalf("results %+v", body.Results)
	}
	for i := 1; i < len(body.Results); i++ {
		if body.Results[i].Score > body.Results[i-1].Score {
			t.Errorf("results not ordered by score: %+v", body.Results)
		}
	}
	if code := decode("q=tennis&category=sports&max_price=10"); code != 200 || len(body.Results) != 1 || body.Results[0].SKU != "B1" {
		t.Errorf("filtered search = %d %+v", code, body.Results)
	}
	if code := decode("q=tennis&category=none"); code != 200 || body.Results == nil || len(body.Results) != 0 || body.Message == "" {
		t.Errorf("empty search = %d results %v message %q", code, body.Results, body.Message)
	}
	// An exact SKU wins in every mode and says so; the floor hides
	// nonsense unless min_score lowers it; labels name the relevance.
	for _, mode := range []string{"vector", "hybrid"} {
		var hit struct {
			Results []struct {
				SKU       string   `json:"sku"`
				Match     string   `json:"match"`
				Relevance string   `json:"relevance"`
				Sim       *float64 `json:"similarity"`
			} `json:"results"`
			Lookup   string  `json:"lookup"`
			Weaker   int     `json:"weaker"`
			MinScore float64 `json:"min_score"`
			Total    int     `json:"total"`
		}
		_, raw, _ := get(t, http.DefaultClient, e.url+"/api/search?q=b1&mode="+mode)
		if err := json.Unmarshal([]byte(raw), &hit); err != nil {
			t.Fatal(err)
		}
		if len(hit.Results) == 0 || hit.Results[0].SKU != "B1" || hit.Results[0].Match != "exact_sku" || hit.Lookup != "sku" {
			t.Errorf("%s: q=b1 gave %s", mode, raw)
		}
		hit.Results = nil
		_, raw, _ = get(t, http.DefaultClient, e.url+"/api/search?q=zzqxv&mode="+mode)
		json.Unmarshal([]byte(raw), &hit)
		if len(hit.Results) != 0 || hit.Weaker == 0 || hit.MinScore <= 0 {
			t.Errorf("%s: q=zzqxv gave %s, want nothing shown and weaker matches counted", mode, raw)
		}
		_, raw, _ = get(t, http.DefaultClient, e.url+"/api/search?q=zzqxv&min_score=0&mode="+mode)
		json.Unmarshal([]byte(raw), &hit)
		if len(hit.Results) == 0 || hit.Results[0].Relevance == "" || hit.MinScore != 0 {
			t.Errorf("%s: q=zzqxv&min_score=0 gave %s, want the weaker matches labelled", mode, raw)
		}
	}
	_, metrics, _ := get(t, http.DefaultClient, e.url+"/metrics")
	for _, want := range []string{`refarch_search_empty_total{mode="vector"} 2`, `refarch_search_duration_seconds_count{mode="vector"} 6`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, bad := range []string{"", "q=a&k=0", "q=a&k=101", "q=" + strings.Repeat("x", 501), "q=a&mode=nope", "q=a&min_price=3&max_price=2"} {
		if code := decode(bad); code != 400 || body.Error == "" {
			t.Errorf("%q = %d %q, want 400 with an error", bad, code, body.Error)
		}
	}
}

// uiClient is a browser-like client: cookies, and the CSRF secret read from
// the page.
type uiClient struct {
	c    *http.Client
	base string
	csrf string
}

func newClient(t *testing.T, base string) *uiClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &uiClient{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: base}
	_, body, _ := get(t, u.c, base+"/")
	i := strings.Index(body, `X-CSRF-Token&#34;:&#34;`)
	if i < 0 {
		t.Fatal("page carries no CSRF token")
	}
	rest := body[i+len(`X-CSRF-Token&#34;:&#34;`):]
	token, _, ok := strings.Cut(rest, "&#34;")
	if !ok {
		t.Fatal("the page's CSRF token is not terminated")
	}
	u.csrf = token
	return u
}

func (u *uiClient) post(t *testing.T, path string, form url.Values, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := u.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestUIEditValidatesAndLeavesRowUnchanged(t *testing.T) {
	t.Parallel()
	e := newUI(t, "")
	p := e.add(t, product.Product{SKU: "K1", Name: "Kettle", Description: "boils water", Price: 2999, Category: "kitchen"})[0]
	u := newClient(t, e.url)
	form := url.Values{"sku": {"K1"}, "name": {"Kettle"}, "description": {"boils water quickly"}, "price": {"-3x"}, "category": {"kitchen"}, "version": {"1"}}
	// The UI answers 200 with the form and its problems: an expected
	// outcome must not log a failed request in the browser's console.
	code, body := u.post(t, fmt.Sprintf("/ui/products/%d", p.ID), form, "X-CSRF-Token", u.csrf)
	if code != http.StatusOK || !strings.Contains(body, "Price must be an amount like 19.99") || !strings.Contains(body, `aria-invalid="true" aria-describedby="p1-price-error"`) {
		t.Fatalf("bad price = %d, body lacks the field error:\n%s", code, body)
	}
	if !strings.Contains(body, `value="-3x"`) {
		t.Error("the form lost what was typed")
	}
	after, _ := e.cat.Get(context.Background(), p.ID)
	if after.Description != p.Description || after.Version != p.Version || after.Price != p.Price {
		t.Fatalf("rejected edit changed the row: %+v", after)
	}
	form.Set("price", "31.50")
	form.Set("version", "7")
	code, body = u.post(t, fmt.Sprintf("/ui/products/%d", p.ID), form, "X-CSRF-Token", u.csrf)
	if code != http.StatusOK || !strings.Contains(body, "Someone else saved this product") || !strings.Contains(body, `value="31.50"`) ||
		!strings.Contains(body, "Keep mine") || !strings.Contains(body, "Use theirs") || !strings.Contains(body, `<td class="theirs">29.99</td>`) {
		t.Fatalf("edit of a stale version = %d, want mine and theirs side by side:\n%s", code, body)
	}
	if after, _ := e.cat.Get(context.Background(), p.ID); after.Version != p.Version || after.Price != p.Price {
		t.Fatalf("an edit of a stale version changed the row: %+v", after)
	}
	form.Set("version", "1")
	code, body = u.post(t, fmt.Sprintf("/ui/products/%d", p.ID), form, "X-CSRF-Token", u.csrf)
	if code != 200 || !strings.Contains(body, "$31.50") || !strings.Contains(body, "badge-indexing") {
		t.Fatalf("good edit = %d\n%s", code, body)
	}
}

func TestUIWritesNeedCSRFAndSameSite(t *testing.T) {
	t.Parallel()
	e := newUI(t, "")
	u := newClient(t, e.url)
	form := url.Values{"sku": {"N1"}, "name": {"New"}, "description": {"d"}, "price": {"1"}}
	if code, _ := u.post(t, "/ui/products", form); code != http.StatusForbidden {
		t.Errorf("write without CSRF token = %d, want 403", code)
	}
	if code, _ := u.post(t, "/ui/products", form, "X-CSRF-Token", "0123456789abcdef0123456789abcdef0123"); code != http.StatusForbidden {
		t.Errorf("write with a wrong CSRF token = %d, want 403", code)
	}
	if code, _ := u.post(t, "/ui/products", form, "X-CSRF-Token", u.csrf, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cross-site write = %d, want 403", code)
	}
	if code, _ := u.post(t, "/ui/products", form, "X-CSRF-Token", u.csrf, "Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("write from another origin = %d, want 403", code)
	}
	if _, total, err := e.cat.List(context.Background(), catalog.ListOptions{}); err != nil || total != 0 {
		t.Fatalf("a refused write created %d products (%v)", total, err)
	}
	if code, body := u.post(t, "/ui/products", form, "X-CSRF-Token", u.csrf, "Sec-Fetch-Site", "same-origin"); code != 200 || !strings.Contains(body, "Added") {
		t.Fatalf("same-site write = %d\n%s", code, body)
	}
}

func TestAdminTokenProtectsWrites(t *testing.T) {
	t.Parallel()
	e := newUI(t, "s3cret-token")
	p := e.add(t, product.Product{SKU: "K1", Name: "Kettle", Description: "boils water", Price: 2999})[0]
	// Reads stay open.
	if code, body, _ := get(t, http.DefaultClient, e.url+"/"); code != 200 || !strings.Contains(body, "Kettle") || strings.Contains(body, ">Edit<") {
		t.Fatalf("anonymous read = %d (edit buttons must be hidden)", code)
	}
	// "Sign in" comes back to where the visitor was.
	if _, body, _ := get(t, http.DefaultClient, e.url+"/?category=kitchen&page=2"); !strings.Contains(body, `href="/login?next=%2F%3Fcategory%3Dkitchen%26page%3D2"`) {
		t.Error("the sign-in link does not return to the page")
	}
	// The API needs the bearer token.
	api := func(tok string) int {
		req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/products/%d", e.url, p.ID), nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := api(""); code != http.StatusUnauthorized {
		t.Errorf("API delete without token = %d, want 401", code)
	}
	if code := api("wrong"); code != http.StatusUnauthorized {
		t.Errorf("API delete with a wrong token = %d, want 401", code)
	}
	// The UI needs a signed-in session.
	u := newClient(t, e.url)
	path := fmt.Sprintf("/ui/products/%d/delete", p.ID)
	if code, _ := u.post(t, path, nil, "X-CSRF-Token", u.csrf); code != http.StatusUnauthorized {
		t.Errorf("UI delete before sign-in = %d, want 401", code)
	}
	if code, _ := u.post(t, "/login", url.Values{"token": {"wrong"}, "csrf": {u.csrf}}); code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong token = %d, want 401", code)
	}
	if code, _ := u.post(t, "/login", url.Values{"token": {"s3cret-token"}, "csrf": {u.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", code)
	}
	ck := u.c.Jar.Cookies(mustURL(e.url))
	for _, c := range ck {
		if c.Value == "s3cret-token" {
			t.Fatal("the session cookie holds the token itself")
		}
	}
	if _, err := e.cat.Get(context.Background(), p.ID); err != nil {
		t.Fatal("refused writes deleted the product")
	}
	if code, _ := u.post(t, path, nil, "X-CSRF-Token", u.csrf); code != 200 {
		t.Errorf("UI delete after sign-in = %d", code)
	}
	if _, err := e.cat.Get(context.Background(), p.ID); err == nil {
		t.Error("product still there after a signed-in delete")
	}
	if code := api("s3cret-token"); code != http.StatusNotFound {
		t.Errorf("API delete with the token = %d, want 404 (already gone)", code)
	}
}

func mustURL(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

func TestStatusPage(t *testing.T) {
	t.Parallel()
	e := newUI(t, "")
	e.add(t, product.Product{SKU: "A", Name: "A", Description: "a", Price: 1}, product.Product{SKU: "B", Name: "B", Description: "b", Price: 1})
	e.indexAll(t)
	e.add(t, product.Product{SKU: "C", Name: "C", Description: "c", Price: 1})
	// The page shows the last reading while a new one is slow (its time
	// on the page), so it may take a reading to catch up.
	testkit.WaitFor(t, 30*time.Second, func() string {
		code, body, _ := get(t, http.DefaultClient, e.url+"/status")
		if code != 200 {
			return fmt.Sprintf("GET /status = %d", code)
		}
		for _, want := range []string{"<dt>Products</dt><dd>3</dd>", "<dt>Indexed</dt><dd>2</dd>", "<dt>Not yet indexed</dt><dd>1</dd>", e.emb.Model(), e.store.Name()} {
			if !strings.Contains(body, want) {
				return fmt.Sprintf("status page lacks %q", want)
			}
		}
		return ""
	})
	// The sampler (every 5 s) exports the same numbers on /metrics.
	testkit.WaitFor(t, 20*time.Second, func() string {
		_, m, _ := get(t, http.DefaultClient, e.url+"/metrics")
		for _, want := range []string{"refarch_catalog_products 3", `refarch_index_products{state="indexed"} 2`,
			`refarch_index_products{state="missing"} 1`, "refarch_outbox_changes 3"} {
			if !strings.Contains(m, want) {
				return "/metrics lacks " + want
			}
		}
		return ""
	})
}

// A new index over a large catalog, before a fold has counted it: the
// status page says so at once; after the fold it shows the figures.
func TestStatusPageWhileANewIndexIsCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newUI(t, "")
	n := indexstate.ExhaustiveMax + 1
	if _, err := e.pool.Exec(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, 'd', 1 FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	if err := indexstate.New(e.pool, e.emb.Model()).Register(ctx, e.store.Name()); err != nil {
		t.Fatal(err)
	}
	// The page may show the last reading (the sampler's, taken before the
	// products came) for a few seconds: it says "as of" when.
	testkit.WaitFor(t, 30*time.Second, func() string {
		if code, body, _ := get(t, http.DefaultClient, e.url+"/status"); code != http.StatusOK || !strings.Contains(body, "Counting the catalog") {
			return fmt.Sprintf("GET /status before the count = %d, without the counting notice", code)
		}
		return ""
	})
	if _, err := indexstate.Fold(ctx, e.pool, 0); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() string {
		if _, body, _ := get(t, http.DefaultClient, e.url+"/status"); !strings.Contains(body, "<dt>Products</dt><dd>50,001</dd>") ||
			strings.Contains(body, "Counting the catalog") {
			return fmt.Sprintf("status page after the count lacks the %d products, or still says it counts", n)
		}
		return ""
	})
}

// While a status reading is slow (here: blocked on a lock, as on a busy
// database), the page answers at once with the last reading and its time;
// the reading goes on and serves the views after it.
func TestStatusPageAnswersWhileAReadingIsSlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newUI(t, "")
	e.add(t, product.Product{SKU: "A", Name: "A", Description: "a", Price: 1})
	testkit.WaitFor(t, 30*time.Second, func() string {
		if _, body, _ := get(t, http.DefaultClient, e.url+"/status"); !strings.Contains(body, "<dt>Products</dt><dd>1</dd>") {
			return "status page without the product"
		}
		return ""
	})
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE status_counts IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	e.add(t, product.Product{SKU: "B", Name: "B", Description: "b", Price: 1})
	// Readings wait for the lock for as long as it is held: a page that
	// waited for one would not answer before the client's timeout.
	c := &http.Client{Timeout: 10 * time.Second}
	code, body, _ := get(t, c, e.url+"/status")
	if code != http.StatusOK || !strings.Contains(body, "<dt>Products</dt><dd>1</dd>") || !strings.Contains(body, "Figures as of") {
		t.Fatalf("status page during a slow reading = %d; want 200 with the last reading (1 product) and its time", code)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() string {
		if _, body, _ := get(t, c, e.url+"/status"); !strings.Contains(body, "<dt>Products</dt><dd>2</dd>") {
			return "status page without the second product"
		}
		return ""
	})
}
