package serve_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/vectorstore"
)

const chromiumPath = "/usr/bin/chromium"

// browserCatalog has products whose meanings are far apart, so that a query
// about one of them must rank it first.
var browserCatalog = []product.Product{
	{SKU: "MUG-1", Name: "Stainless steel travel mug", Description: "Vacuum insulated travel mug that keeps coffee hot for twelve hours on the commute", Price: 2499, Category: "kitchen"},
	{SKU: "SHOE-1", Name: "Trail running shoes", Description: "Lightweight running shoes with grippy soles for muddy mountain trails", Price: 11900, Category: "sports"},
	{SKU: "HEAD-1", Name: "Noise cancelling headphones", Description: "Over-ear wireless headphones that block out airplane engine noise", Price: 19900, Category: "electronics"},
	{SKU: "PAN-1", Name: "Cast iron skillet", Description: "Heavy cast iron frying pan for searing steak and baking cornbread", Price: 3900, Category: "kitchen"},
	{SKU: "MAT-1", Name: "Yoga mat", Description: "Non-slip cushioned yoga mat for stretching, pilates and floor exercises", Price: 2900, Category: "sports"},
	{SKU: "LAMP-1", Name: "Desk lamp", Description: "Dimmable LED desk lamp with a warm light for reading at night", Price: 4500, Category: "home"},
	{SKU: "TENT-1", Name: "Two-person tent", Description: "Waterproof dome tent for backpacking and camping in the rain", Price: 15900, Category: "outdoors"},
	{SKU: "KB-1", Name: "Mechanical keyboard", Description: "Compact mechanical keyboard with tactile switches for programmers", Price: 8900, Category: "electronics"},
}

// queries are one per embedder: the real model is asked by meaning, the
// hash test embedder (which knows words, not meanings) by shared words.
type queries struct{ mug, newMeaning, newDescription string }

func browserQueries(semantic bool) queries {
	if semantic {
		return queries{
			mug:            "something to keep my coffee warm while I travel",
			newMeaning:     "charge my phone outdoors with sunlight",
			newDescription: "Foldable solar panel that charges phones and power banks from sunshine while hiking",
		}
	}
	return queries{
		mug:            "keeps coffee hot travel mug",
		newMeaning:     "solar panel charges phones",
		newDescription: "Foldable solar panel that charges phones and power banks from sunshine while hiking",
	}
}

// pipeline is the real pelican and emu on the test database, so that edits
// reach the index the way they do in production. Emu can be paused, so that
// the test sees a change waiting for the index however fast emu is.
type pipeline struct {
	t       *testing.T
	newEmu  func() *emu.Emu
	stopEmu func()
}

func startPipeline(t *testing.T, pool *pgxpool.Pool, emb embedding.Embedder, store vectorstore.Store) *pipeline {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	q := pgqueue.New(pool, pgqueue.Options{MaxReceives: 4, PollInterval: 200 * time.Millisecond})
	t.Cleanup(func() { q.Close() })
	p := pelican.New(pool, q, pelican.Config{Model: emb.Model(), BatchSize: 100, PollInterval: 200 * time.Millisecond}, log, nil)
	pl := &pipeline{t: t, newEmu: func() *emu.Emu {
		return emu.New(pool, q, emb, store, emu.Config{Concurrency: 2, BatchSize: 32, Visibility: 5 * time.Second,
			Wait: 300 * time.Millisecond, MaxReceives: 4, DepthInterval: -1}, log, nil)
	}}
	stopPelican := run(t, "pelican", p.Run)
	t.Cleanup(stopPelican)
	pl.resumeEmu()
	t.Cleanup(func() { pl.pauseEmu() })
	return pl
}

// run starts a role and returns a func that stops it and waits for it.
func run(t *testing.T, name string, f func(context.Context) error) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
}

func (p *pipeline) pauseEmu() {
	if p.stopEmu != nil {
		p.stopEmu()
		p.stopEmu = nil
	}
}

func (p *pipeline) resumeEmu() {
	if p.stopEmu == nil {
		p.stopEmu = run(p.t, "emu", p.newEmu().Run)
	}
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("SKIPPING browser test: %s is absent (scripts/chromium.sh installs it)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Every page records script errors and content security policy
	// violations, so that the test sees what a person's console would.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.pageProblems = [];
		document.addEventListener('securitypolicyviolation', e => window.pageProblems.push('CSP ' + e.violatedDirective + ' ' + e.blockedURI));
		window.addEventListener('error', e => window.pageProblems.push('error ' + e.message));
		document.addEventListener('htmx:responseError', e => window.pageProblems.push('htmx ' + e.detail.xhr.status + ' ' + e.detail.pathInfo.requestPath));`}); err != nil {
		t.Fatalf("install problem recorder: %v", err)
	}
	// The console as a person would see it: console errors and warnings,
	// and the browser's own log (failed requests, a missing favicon).
	rec := &consoleRecorder{}
	ctx = context.WithValue(ctx, consoleKey{}, rec)
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the browser log: %v", err)
	}
	// Listen records each event before the browser's next message is read,
	// so a command that returns afterwards has seen every earlier entry.
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				rec.add(string(ev.Entry.Level) + " " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		case *cdpruntime.EventConsoleAPICalled:
			if ev.Type == cdpruntime.ConsoleAPICalledTypeError || ev.Type == cdpruntime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				rec.add("console " + string(ev.Type) + " " + strings.Join(parts, " "))
			}
		}
	}); err != nil {
		t.Fatalf("listen to the console: %v", err)
	}
	// Accept every confirmation (delete asks first).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}) // no dialog is not an error
		}
	}()
	return ctx
}

// waitJS waits until expr is truthy in the page, and fails the test with
// what the page shows otherwise.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#results')?.innerText ?? document.body.innerText`))
		focus, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement?.outerHTML.slice(0, 200) ?? ''`))
		t.Fatalf("%s: %v\nfocus is on %s\npage shows:\n%s", what, err, focus, body)
	}
}

// htmxReady is true once htmx has wired the element matching css: a click
// before that would fall through to the browser's own form submission.
func htmxReady(css string) string {
	return fmt.Sprintf(`document.querySelector(%q)?.['htmx-internal-data']?.initHash !== undefined`, css)
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// noProblems fails the test if the current page saw script errors, policy
// violations or failed htmx requests.
func noProblems(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	probs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.pageProblems || []`))
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) > 0 {
		t.Errorf("%s: the page reported %v", where, probs)
	}
	if rec, ok := ctx.Value(consoleKey{}).(*consoleRecorder); ok {
		if msgs := rec.take(); len(msgs) > 0 {
			t.Errorf("%s: the console shows %q", where, msgs)
		}
	}
}

type consoleKey struct{}

// consoleRecorder keeps the console's errors and warnings until a test
// looks at them.
type consoleRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleRecorder) add(m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
}

func (c *consoleRecorder) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.msgs
	c.msgs = nil
	return m
}

func firstSKU(sku string) string {
	return fmt.Sprintf(`document.querySelector('#results tbody tr')?.dataset.sku === %q`, sku)
}

func TestBrowserSearchEditDelete(t *testing.T) {
	ctx := newBrowser(t)
	pcfg, err := pgxpool.ParseConfig(pgtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 32 // serve, pelican, emu and the queue each hold connections
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var emb embedding.Embedder = embedding.NewHash(256)
	semantic := false
	if dir := os.Getenv("REFARCH_MODEL_DIR"); dir != "" {
		var err error
		emb, err = embedding.Open(context.Background(), embedding.Options{Name: "use", ModelDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		semantic = true
	}
	t.Logf("embedder %s (semantic queries: %v)", emb.Model(), semantic)
	qs := browserQueries(semantic)
	e := newUIOn(t, pool, "", emb)
	ps := e.add(t, browserCatalog...)
	ids := map[string]int64{}
	for _, p := range ps {
		ids[p.SKU] = p.ID
	}
	pl := startPipeline(t, pool, emb, e.store)

	// The first page is rendered by the server: the table is there at once,
	// and the badges turn indexed by themselves as the pipeline catches up.
	do(t, ctx, "open the product table", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#results tbody tr`)))
	waitJS(t, ctx, "all products listed", fmt.Sprintf(`document.querySelectorAll('#results tbody tr').length === %d`, len(browserCatalog)))
	waitJS(t, ctx, "every badge indexed", fmt.Sprintf(`document.querySelectorAll('#results .badge-indexed').length === %d`, len(browserCatalog)))

	// Search as you type: the mug comes first and the URL holds the search.
	do(t, ctx, "type a search", chromedp.SendKeys(chromedp.ID("q"), qs.mug))
	waitJS(t, ctx, "the mug ranked first for "+qs.mug, firstSKU("MUG-1"))
	waitJS(t, ctx, "the search is in the URL", `new URLSearchParams(location.search).get('q') === `+fmt.Sprintf("%q", qs.mug))
	waitJS(t, ctx, "relevance shown", `/^(Strong|Good) match$/.test(document.querySelector('#results tbody tr td.score summary')?.innerText)`)
	if os.Getenv("REFARCH_SCREENSHOT") != "" {
		shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		dst := os.Getenv("REFARCH_SCREENSHOT")
		if err := os.WriteFile(dst, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", filepath.Clean(dst))
	}

	noProblems(t, ctx, "search as you type")

	// Hybrid ranking and a category filter are one click each, and land in
	// the URL too.
	do(t, ctx, "switch to hybrid", chromedp.Click(chromedp.ID("mode")))
	waitJS(t, ctx, "hybrid is in the URL", `new URLSearchParams(location.search).get('mode') === 'hybrid'`)
	waitJS(t, ctx, "the mug still ranked first in hybrid mode", firstSKU("MUG-1"))
	do(t, ctx, "filter to sports", chromedp.SetValue(chromedp.ID("category"), "sports"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('category').dispatchEvent(new Event('change', {bubbles: true}))`))
	waitJS(t, ctx, "only sports products", `(() => { const cs = [...document.querySelectorAll('#results tbody td.category')].map(td => td.innerText);
		// The relevance floor may hide sports products far from a mug.
		return cs.length <= 2 && cs.every(c => c === 'sports') && new URLSearchParams(location.search).get('category') === 'sports'; })()`)
	noProblems(t, ctx, "filters")

	// A bad price shows its error next to the field and changes nothing.
	mat := ids["MAT-1"]
	before, _ := e.cat.Get(context.Background(), mat)
	do(t, ctx, "open the yoga mat for editing",
		chromedp.Navigate(e.url+"/"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button[aria-label^="Edit"]`, mat))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("p%d-price", mat))),
	)
	// The edit row is ready once it has put the focus in its first field.
	waitJS(t, ctx, "the edit row takes the focus", fmt.Sprintf(`document.activeElement?.id === 'p%d-name'`, mat))
	waitJS(t, ctx, "the edit row is wired", htmxReady(fmt.Sprintf(`#row-%d button.primary`, mat)))
	do(t, ctx, "break the price",
		chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-price", mat)), "twelve"),
		// Enter in a field saves, as a keyboard user expects.
		chromedp.SendKeys(chromedp.ID(fmt.Sprintf("p%d-price", mat)), kb.Enter),
	)
	waitJS(t, ctx, "the price error is shown", fmt.Sprintf(`document.getElementById('p%d-price-error')?.innerText.includes('Price must be an amount')`, mat))
	after, _ := e.cat.Get(context.Background(), mat)
	if after.Version != before.Version || after.Price != before.Price {
		t.Fatalf("a rejected edit changed the product: %+v -> %+v", before, after)
	}

	// A new description: the badge goes indexing, then indexed by itself,
	// and the product is found by its new meaning.
	// Emu is paused so that the change visibly waits for the index; a
	// recorder notes every state the badge shows.
	pl.pauseEmu()
	do(t, ctx, "record badge states", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		window.badgeStates = [];
		const note = () => { const b = document.getElementById('badge-%d');
			const s = b && [...b.classList].find(c => c.startsWith('badge-'));
			if (s && window.badgeStates[window.badgeStates.length-1] !== s) window.badgeStates.push(s); };
		new MutationObserver(note).observe(document.getElementById('results'), {subtree: true, childList: true, attributes: true});
	})()`, mat)))
	do(t, ctx, "give the mat a new meaning",
		chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-price", mat)), "29.00"),
		chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-name", mat)), "Solar charger"),
		chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-description", mat)), qs.newDescription),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.primary`, mat))),
	)
	waitJS(t, ctx, "the edit is saved and waits for the index", fmt.Sprintf(`document.querySelector('#row-%d:not(.editing) #badge-%d.badge-indexing') !== null`, mat, mat))
	pl.resumeEmu()
	waitJS(t, ctx, "the badge turns indexed by itself", fmt.Sprintf(`document.querySelector('#badge-%d.badge-indexed') !== null`, mat))
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.badgeStates`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("badge states seen: %v", seen)
	if i := slices.Index(seen, "badge-indexing"); i < 0 || !slices.Contains(seen[i:], "badge-indexed") {
		t.Fatalf("badge went through %v, want indexing then indexed", seen)
	}
	noProblems(t, ctx, "editing")
	do(t, ctx, "search for the new meaning", chromedp.Navigate(e.url+"/?q="+strings.ReplaceAll(qs.newMeaning, " ", "+")))
	waitJS(t, ctx, "the edited product ranked first for "+qs.newMeaning, firstSKU("MAT-1"))

	// Delete with confirmation: the row goes, and searches no longer find it.
	mug := ids["MUG-1"]
	do(t, ctx, "find the mug", chromedp.Navigate(e.url+"/?q="+strings.ReplaceAll(qs.mug, " ", "+")))
	waitJS(t, ctx, "the mug is first", firstSKU("MUG-1"))
	do(t, ctx, "delete the mug", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.danger`, mug))))
	waitJS(t, ctx, "the mug's row says Deleted, with Undo", fmt.Sprintf(`document.querySelector('#row-%d.deleted button')?.innerText === 'Undo'`, mug))
	noProblems(t, ctx, "deleting")
	do(t, ctx, "search for the mug again", chromedp.Navigate(e.url+"/?q="+strings.ReplaceAll(qs.mug, " ", "+")))
	waitJS(t, ctx, "results shown", `document.querySelector('#results tbody tr, #results .notice') !== null`)
	waitJS(t, ctx, "the deleted mug is not found", `document.querySelector('#results tr[data-sku="MUG-1"]') === null`)
	if _, err := e.cat.Get(context.Background(), mug); err == nil {
		t.Fatal("the mug is still in the table")
	}
	noProblems(t, ctx, "searching after the delete")

	// Create: a missing name is explained, then the product appears in the
	// table and is indexed by itself.
	do(t, ctx, "open the kitchen", chromedp.Navigate(e.url+"/?category=kitchen"))
	waitJS(t, ctx, "the create form is wired", htmxReady(`#create form`))
	do(t, ctx, "open the create form",
		chromedp.Click(chromedp.CSS(`#create summary`)),
		chromedp.SetValue(chromedp.ID("new-sku"), "POT-1"),
		chromedp.SetValue(chromedp.ID("new-category"), "kitchen"),
		chromedp.SetValue(chromedp.ID("new-price"), "18.50"),
		chromedp.SetValue(chromedp.ID("new-description"), "Enamel teapot that brews loose leaf tea"),
		chromedp.Click(chromedp.CSS(`#create button[type=submit]`)),
	)
	waitJS(t, ctx, "the missing name is explained", `document.getElementById('new-name-error')?.innerText.includes('Name is required')`)
	waitJS(t, ctx, "the form is wired again", htmxReady(`#create form`))
	do(t, ctx, "name the product and add it",
		chromedp.SetValue(chromedp.ID("new-name"), "Enamel teapot"),
		chromedp.Click(chromedp.CSS(`#create button[type=submit]`)),
	)
	waitJS(t, ctx, "the new product is listed", `document.querySelector('#results tr[data-sku="POT-1"]') !== null && document.querySelector('#create .notice')?.innerText.includes('Added')`)
	waitJS(t, ctx, "the new product is indexed", `document.querySelector('#results tr[data-sku="POT-1"] .badge-indexed') !== null`)
	noProblems(t, ctx, "creating")
}
