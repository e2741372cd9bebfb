package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// statusClient is a browser without JavaScript on the status page: it
// keeps cookies, follows nothing, and posts the forms with their CSRF field.
type statusClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newStatusClient(t *testing.T, addr string) *statusClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	sc := &statusClient{t: t, base: "http://" + addr, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	code, _, _ := sc.do(http.MethodGet, "/status", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /status = %d", code)
	}
	for _, c := range jar.Cookies(mustParse(sc.base)) {
		if c.Name == "refarch_csrf" {
			sc.csrf = c.Value
		}
	}
	if sc.csrf == "" {
		t.Fatal("the status page set no CSRF cookie")
	}
	return sc
}

func mustParse(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

func (sc *statusClient) do(method, path string, form url.Values) (int, string, http.Header) {
	sc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, sc.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := sc.c.Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// post sends a form with the CSRF field, as the page's forms do.
func (sc *statusClient) post(path string, form url.Values) (int, string, http.Header) {
	sc.t.Helper()
	f := url.Values{"csrf": {sc.csrf}}
	for k, v := range form {
		f[k] = v
	}
	form = f
	return sc.do(http.MethodPost, path, form)
}

// The status page's index actions (issue 13), each role as its own
// database user as in AWS: create with a chosen embedder, promote (refused
// while incomplete, with the rows missing; forced; back again), drop
// (refused for the active generation; finished by emu), a generation that
// promotes itself once complete (auto_promote, by pelican), and every action
// refused without the admin token or with a wrong one.
func TestIndexActionsFromTheStatusPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "gen-admin-token"
	base := testConfig(t)
	base.AdminToken = token
	cfgs := map[string]Config{}
	for _, role := range []string{"emu", "pelican", "serve"} {
		c := base
		c.DatabaseURL = pgtest.AsUser(base.DatabaseURL, "refarch_"+role)
		c.Addr = testkit.FreeAddr(t)
		cfgs[role] = c
	}
	pool, err := pgxpool.New(ctx, base.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := catalog.Seed(ctx, pool, catalog.SeedOptions{Count: 40}); err != nil {
		t.Fatal(err)
	}
	var errs errorLog
	defer func() {
		if s := errs.String(); s != "" {
			t.Errorf("the roles logged errors:\n%s", s)
		}
	}()
	defer startLogging(t, cfgs["emu"], Roles{Emu: true}, &errs)()
	stopPelican := startLogging(t, cfgs["pelican"], Roles{Pelican: true}, &errs)
	defer startLogging(t, cfgs["serve"], Roles{Serve: true}, &errs)()
	first := generationNamed(t, pool, generations.Active)
	waitComplete(t, pool, first.Name)
	// Without pelican, a new generation is not backfilled: emu opens its
	// index, but it stays incomplete for as long as this part needs.
	stopPelican()

	anon := newStatusClient(t, cfgs["serve"].Addr)
	if _, page, _ := anon.do(http.MethodGet, "/status", nil); !strings.Contains(page, "Sign in with the admin token to create") ||
		strings.Contains(page, `action="/ui/index"`) {
		t.Error("the status page offers the index actions to a visitor who has not signed in")
	}
	create := url.Values{"embedder": {"hash"}, "hash_dim": {"64"}}
	if code, _, _ := anon.post("/ui/index", create); code != http.StatusUnauthorized {
		t.Errorf("create without signing in = %d, want 401", code)
	}
	if code, _, _ := anon.post("/ui/index/"+first.Name+"/drop", nil); code != http.StatusUnauthorized {
		t.Errorf("drop without signing in = %d, want 401", code)
	}
	if code, _, _ := anon.post("/login", url.Values{"token": {"not-the-token"}}); code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong token = %d, want 401", code)
	}
	if code, _, _ := anon.post("/ui/index/"+first.Name+"/promote", url.Values{"force": {"on"}}); code != http.StatusUnauthorized {
		t.Errorf("promote after a wrong sign-in = %d, want 401", code)
	}
	// The CSRF secret is checked before anything else.
	if code, _, _ := anon.do(http.MethodPost, "/ui/index", create); code != http.StatusForbidden {
		t.Errorf("create without the CSRF field = %d, want 403", code)
	}
	if gens, _ := generations.List(ctx, pool); len(gens) != 1 {
		t.Fatalf("refused actions changed the generations: %+v", gens)
	}

	admin := newStatusClient(t, cfgs["serve"].Addr)
	if code, _, _ := admin.post("/login", url.Values{"token": {token}, "next": {"/status"}}); code != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", code)
	}
	if _, page, _ := admin.do(http.MethodGet, "/status", nil); !strings.Contains(page, `action="/ui/index"`) {
		t.Fatal("the signed-in status page has no create form")
	}
	for _, bad := range []url.Values{{"embedder": {"word2vec"}}, {"embedder": {"hash"}, "hash_dim": {"lots"}},
		{"embedder": {"hash"}, "hash_dim": {"1"}}, {"embedder": {"ollama"}}} {
		if code, page, _ := admin.post("/ui/index", bad); code != http.StatusBadRequest || !strings.Contains(page, `id="index-error"`) {
			t.Errorf("create %v = %d, want 400 with the reason on the page", bad, code)
		}
	}
	code, _, hdr := admin.post("/ui/index", create)
	if code != http.StatusSeeOther {
		t.Fatalf("create = %d, want 303", code)
	}
	next := generationNamed(t, pool, generations.Building)
	if next.Embedder != "hash" || next.Dims != 64 || next.AutoPromote {
		t.Fatalf("created %+v, want a hash generation of 64 dimensions without auto_promote", next)
	}
	if _, page, _ := admin.do(http.MethodGet, hdr.Get("Location"), nil); !strings.Contains(page, "Generation "+next.Name+" is building") ||
		!strings.Contains(page, `data-generation="`+next.Name+`"`) || !strings.Contains(page, `aria-label="Promote `+next.Name+`"`) {
		t.Errorf("after create, the status page does not show %s building with its actions", next.Name)
	}

	// Promote: refused while incomplete, saying how many rows are missing.
	testkit.WaitFor(t, time.Minute, func() string {
		var ok bool
		pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vector_indexes WHERE model = $1)`, next.Name).Scan(&ok)
		if !ok {
			return "emu has not opened the new generation's index"
		}
		return ""
	})
	code, page, _ := admin.post("/ui/index/"+next.Name+"/promote", nil)
	if code != http.StatusConflict || !strings.Contains(page, "lacks 40 rows") {
		t.Errorf("promote an incomplete generation = %d, want 409 saying it lacks 40 rows\n%s", code, excerpt(page, "index-error"))
	}
	if g, _ := generations.Get(ctx, pool, next.Name); g.State != generations.Building {
		t.Fatalf("a refused promotion left %s %s", next.Name, g.State)
	}
	// Forced, it becomes active; the active one cannot be dropped; the old
	// one, kept up to date, is promoted back at once.
	if code, _, _ := admin.post("/ui/index/"+next.Name+"/promote", url.Values{"force": {"on"}}); code != http.StatusSeeOther {
		t.Fatalf("forced promote = %d, want 303", code)
	}
	if g := generationNamed(t, pool, generations.Active); g.Name != next.Name {
		t.Fatalf("after a forced promote the active generation is %s", g.Name)
	}
	if code, page, _ := admin.post("/ui/index/"+next.Name+"/drop", nil); code != http.StatusConflict || !strings.Contains(page, "is the active one") {
		t.Errorf("drop the active generation = %d, want 409\n%s", code, excerpt(page, "index-error"))
	}
	if code, _, _ := admin.post("/ui/index/"+first.Name+"/promote", nil); code != http.StatusSeeOther {
		t.Fatalf("promote %s back = %d, want 303", first.Name, code)
	}
	if code, _, _ := admin.post("/ui/index/no-such-generation/promote", nil); code != http.StatusConflict {
		t.Errorf("promote a generation that does not exist = %d, want 409", code)
	}

	// With pelican back, the backfill completes and the promotion goes through.
	defer startLogging(t, cfgs["pelican"], Roles{Pelican: true}, &errs)()
	waitComplete(t, pool, next.Name)
	if code, page, _ := admin.post("/ui/index/"+next.Name+"/promote", nil); code != http.StatusSeeOther {
		t.Fatalf("promote the complete generation = %d, want 303\n%s", code, excerpt(page, "index-error"))
	}
	if g := generationNamed(t, pool, generations.Active); g.Name != next.Name {
		t.Fatalf("the active generation is %s, want %s", g.Name, next.Name)
	}

	// Drop the retired one: serve marks it, emu deletes its vectors and
	// state, and the generation is gone.
	oldTable := pgvectorstore.TableName(first.Name, first.Dims)
	if code, _, _ := admin.post("/ui/index/"+first.Name+"/drop", nil); code != http.StatusSeeOther {
		t.Fatalf("drop the retired generation = %d, want 303", code)
	}
	testkit.WaitFor(t, time.Minute, func() string {
		var gens, states int
		var table *string
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM index_generations WHERE name = $1),
			(SELECT count(*) FROM index_state WHERE model = $1), to_regclass($2)::text`, first.Name, oldTable).Scan(&gens, &states, &table); err != nil {
			return err.Error()
		}
		if gens != 0 || states != 0 || table != nil {
			return fmt.Sprintf("after the drop: %d generation rows, %d index_state rows, table %v", gens, states, table)
		}
		return ""
	})

	// A generation created with auto_promote promotes itself once complete.
	if code, _, _ := admin.post("/ui/index", url.Values{"embedder": {"hash"}, "hash_dim": {"32"}, "auto_promote": {"on"}}); code != http.StatusSeeOther {
		t.Fatalf("create with auto_promote = %d, want 303", code)
	}
	var auto generations.Generation
	for _, g := range mustList(t, pool) {
		if g.Dims == 32 {
			auto = g
		}
	}
	if !auto.AutoPromote {
		t.Fatalf("created %+v, want auto_promote", auto)
	}
	testkit.WaitFor(t, 2*time.Minute, func() string {
		if g, err := generations.Get(ctx, pool, auto.Name); err != nil || g.State != generations.Active {
			return fmt.Sprintf("auto-promoted generation: %+v %v", g.State, err)
		}
		return ""
	})
	checkGenerationEqualsTable(t, cfgs["emu"], pool, auto.Name)

	// One step in a real browser: sign in, fill in the create form, and
	// the page says the generation is building.
	browserCreatesAGeneration(t, cfgs["serve"].Addr, token)
	var browserMade int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM index_generations WHERE embedder = 'hash' AND dims = 48`).Scan(&browserMade); err != nil || browserMade != 1 {
		t.Errorf("generations of 48 dimensions after the browser's create: %d (%v), want 1", browserMade, err)
	}
}

const chromiumPath = "/usr/bin/chromium"

func browserCreatesAGeneration(t *testing.T, addr, token string) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Logf("SKIPPING the browser step: %s is absent (scripts/chromium.sh installs it)", chromiumPath)
		return
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	base := "http://" + addr
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login?next=%2Fstatus"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("gen-embedder")),
		chromedp.SetValue(chromedp.ID("gen-embedder"), "hash"),
		chromedp.SetValue(chromedp.ID("gen-hash-dim"), "48"),
		chromedp.Click(chromedp.CSS(`#new-generation button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("index-notice")),
	)
	if err != nil {
		t.Fatalf("browser: create a generation from the status page: %v", err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('index-notice').innerText`))
	if err != nil || !strings.Contains(notice, "is building") {
		t.Errorf("browser: after create the page says %q (%v), want the generation building", notice, err)
	}
}

func mustList(t *testing.T, pool *pgxpool.Pool) []generations.Generation {
	t.Helper()
	gens, err := generations.List(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return gens
}

// excerpt returns the element with id from a page, for failure messages.
func excerpt(page, id string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return "(no #" + id + " on the page)"
	}
	end := min(len(page), i+400)
	return page[i:end]
}
