package serve_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/roles/serve"
)

// axePath is where scripts/axe.sh installs axe-core (REFARCH_AXE_JS
// overrides it).
func axePath() string {
	if p := os.Getenv("REFARCH_AXE_JS"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache/refarch/axe-core-4.14.1/node_modules/axe-core/axe.min.js")
}

// screenshotName is where the docs' screenshot of a page goes, when
// REFARCH_SCREENSHOT_DIR asks for them.
func screenshotName(page, viewport string) string {
	dir := os.Getenv("REFARCH_SCREENSHOT_DIR")
	if dir == "" || (page != "search" && page != "status") {
		return ""
	}
	return filepath.Join(dir, "screenshot-"+page+"-"+viewport+".png")
}

func screenshot(t *testing.T, ctx context.Context, dst string) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", dst)
}

// viewports are the sizes the UI is checked at: a laptop and a phone.
var viewports = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 900}, {"phone", 390, 844}}

// audit runs axe-core inside the page and fails on any serious or critical
// violation, and on a page wider than the viewport (sideways scrolling).
func audit(t *testing.T, ctx context.Context, axe, where string) {
	t.Helper()
	do(t, ctx, "inject axe-core", chromedp.Evaluate[chromedp.Void](`window.axe ? undefined : (0, eval)(`+fmt.Sprintf("%q", axe)+`)`))
	type report struct {
		Bad    []string `json:"bad"`
		Passes int      `json:"passes"`
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[report](`axe.run(document).then(r => ({passes: r.passes.length,
		bad: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
			.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))}))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", where, err)
	}
	if found.Passes < 10 {
		t.Fatalf("%s: axe-core checked only %d rules: it did not run", where, found.Passes)
	}
	for _, v := range found.Bad {
		t.Errorf("%s: %s", where, v)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth <= w) return '';
		const over = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 3)
			.map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className);
		return document.documentElement.scrollWidth + ' px wide in ' + w + ' px: ' + over.join(', ');
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if wide != "" {
		t.Errorf("%s: the page scrolls sideways: %s", where, wide)
	}
}

// TestBrowserAccessibilityAtBothSizes audits every page the editors use,
// in the states they use them, at desktop and phone sizes.
func TestBrowserAccessibilityAtBothSizes(t *testing.T) {
	axeJS, err := os.ReadFile(axePath())
	if err != nil {
		t.Skipf("SKIPPING accessibility audit: %v (scripts/axe.sh installs axe-core)", err)
	}
	axe := string(axeJS)
	ctx := newBrowser(t)
	e := newUI(t, "")
	ps := e.add(t, browserCatalog...)
	e.add(t, catalog.Generate(40, 3)...)
	e.indexAll(t)
	locked := newUI(t, "s3cret")
	locked.add(t, browserCatalog[:3]...)
	// The status page with the index generation actions.
	admin := newUIWith(t, pgtest.New(t), "", embedding.NewHash(64), formOnly{})
	for _, vp := range viewports {
		do(t, ctx, "resize to "+vp.name, chromedp.EmulateViewport(vp.width, vp.height))
		for _, pg := range []struct{ name, url, ready string }{
			{"browse", e.url + "/", `#results tbody tr`},
			{"browse sorted and filtered", e.url + "/?sort=-price&min_price=10", `#results tbody tr`},
			{"search", e.url + "/?q=keeps+coffee+hot+travel+mug", `#results tbody tr`},
			{"exact SKU", e.url + "/?q=mug-1&mode=hybrid", `#results tbody tr`},
			{"no close matches", e.url + "/?q=zzqxv", `#results .notice`},
			{"bad filter", e.url + "/?q=mug&min_price=x", `#results .notice`},
			{"sign in", locked.url + "/login", `#token`},
			{"read-only products", locked.url + "/", `#results tbody tr`},
			{"status", e.url + "/status", `#status-body`},
			{"status with index actions", admin.url + "/status", `#new-generation form`},
		} {
			do(t, ctx, "open "+pg.name, chromedp.Navigate(pg.url), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
			audit(t, ctx, axe, vp.name+" "+pg.name)
			if shot := screenshotName(pg.name, vp.name); shot != "" {
				if pg.name == "status" {
					// The charts need two samples (one every 5 s).
					do(t, ctx, "wait for the charts", chromedp.WaitVisible(chromedp.CSS(`.charts`)))
				}
				screenshot(t, ctx, shot)
			}
		}
		// Editing, with a validation error showing.
		mug := ps[0].ID
		do(t, ctx, "open an edit", chromedp.Navigate(e.url+"/"),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.edit`, mug))),
			chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("p%d-price", mug))))
		audit(t, ctx, axe, vp.name+" editing")
		// Save must be reachable inside the screen.
		right, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(`document.querySelector('#row-%d button.primary').getBoundingClientRect().right`, mug)))
		if err != nil || right > float64(vp.width) {
			t.Errorf("%s: Save ends at %.0f px in a %d px screen (%v)", vp.name, right, vp.width, err)
		}
		do(t, ctx, "make an invalid edit", chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-price", mug)), "twelve"),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.primary`, mug))))
		waitJS(t, ctx, "the error shows", fmt.Sprintf(`document.getElementById('p%d-price-error')?.innerText.includes('Price')`, mug))
		audit(t, ctx, axe, vp.name+" editing with an error")
		do(t, ctx, "open the create form", chromedp.Navigate(e.url+"/"), chromedp.Click(chromedp.CSS(`#create summary`)))
		audit(t, ctx, axe, vp.name+" create form")
		noProblems(t, ctx, vp.name+" pages")
	}
}

// TestBrowserEditorWorkflow checks the numbered items of the catalog UI
// issue as an editor meets them: exact SKU lookups, honest relevance,
// focus, the conflict view, Undo, the new product, sorting, history and
// titles.
func TestBrowserEditorWorkflow(t *testing.T) {
	ctx := newBrowser(t)
	e := newUI(t, "")
	ps := e.add(t, browserCatalog...)
	gen := e.add(t, catalog.Generate(60, 7)...)
	e.indexAll(t)
	ids := map[string]int64{}
	for _, p := range ps {
		ids[p.SKU] = p.ID
	}
	do(t, ctx, "resize", chromedp.EmulateViewport(1280, 900))

	// 1. A SKU is found by itself, pinned first, in both modes.
	target := gen[41]
	for _, mode := range []string{"", "&mode=hybrid"} {
		do(t, ctx, "search a SKU", chromedp.Navigate(e.url+"/?q="+strings.ToLower(target.SKU)+mode), chromedp.WaitVisible(chromedp.CSS(`#results .summary`)))
		waitJS(t, ctx, "the SKU is pinned first", firstSKU(target.SKU))
		waitJS(t, ctx, "labelled exact", `document.querySelector('#results tbody tr td.score summary')?.innerText === 'Exact SKU' && document.querySelector('#results .notice.ok')?.innerText.includes('looks like a SKU')`)
	}

	// 2. Nonsense finds no close matches, with a way to see weaker ones.
	do(t, ctx, "search nonsense", chromedp.Navigate(e.url+"/?q=zzqxv"), chromedp.WaitVisible(chromedp.CSS(`#results .notice`)))
	waitJS(t, ctx, "no close matches", `document.querySelector('#results .notice')?.innerText.includes('No close matches') && document.querySelectorAll('#results tbody tr').length === 0`)
	do(t, ctx, "show weaker matches", chromedp.Click(chromedp.CSS(`#results .notice a`)))
	waitJS(t, ctx, "weaker matches labelled", `document.querySelectorAll('#results tbody tr').length > 0 && [...document.querySelectorAll('#results td.score summary')].every(s => /match$/.test(s.innerText))`)
	waitJS(t, ctx, "the link is in the URL", `new URLSearchParams(location.search).get('min_score') === '0'`)
	// Raw values on demand.
	do(t, ctx, "open a label", chromedp.Click(chromedp.CSS(`#results td.score summary`)))
	waitJS(t, ctx, "raw similarity shown", `/similarity -?\d\.\d{3}/.test(document.querySelector('#results td.score .raw-value').innerText)`)
	// More results pages through a capped answer.
	do(t, ctx, "search broadly", chromedp.Navigate(e.url+"/?q=the&min_score=0"), chromedp.WaitVisible(chromedp.CSS(`#results .summary`)))
	waitJS(t, ctx, "top N and more", `document.querySelector('#results .summary').innerText.startsWith('Top 25') && document.querySelector('#results a[rel=next]') !== null`)
	do(t, ctx, "more results", chromedp.Click(chromedp.CSS(`#results a[rel=next]`)))
	waitJS(t, ctx, "page 2", `document.querySelector('#results .summary').innerText.startsWith('Matches 26–') && new URLSearchParams(location.search).get('page') === '2'`)

	// 8. Typing replaces the history entry, Enter adds one; the title follows.
	do(t, ctx, "start at the table", chromedp.Navigate(e.url+"/"))
	startLen, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`history.length`))
	do(t, ctx, "type a search", chromedp.SendKeys(chromedp.ID("q"), "travel mug"))
	waitJS(t, ctx, "results for the typed search", `new URLSearchParams(location.search).get('q') === 'travel mug'`)
	waitJS(t, ctx, "the title follows", `document.title.startsWith('Search: travel mug')`)
	typedLen, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`history.length`))
	if typedLen != startLen {
		t.Errorf("typing added %d history entries", typedLen-startLen)
	}
	do(t, ctx, "press Enter", chromedp.SendKeys(chromedp.ID("q"), kb.Enter))
	waitJS(t, ctx, "Enter adds an entry", fmt.Sprintf(`history.length === %d`, startLen+1))

	// 3. Focus: first invalid field, then the saved row, then the row
	// after a deleted one.
	mat, lamp := ids["MAT-1"], ids["SHOE-1"]
	do(t, ctx, "edit the mat", chromedp.Navigate(e.url+"/?category=sports&sort=sku"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.edit`, mat))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("p%d-price", mat))))
	waitJS(t, ctx, "focus in the name field", fmt.Sprintf(`document.activeElement?.id === 'p%d-name'`, mat))
	waitJS(t, ctx, "the edit row is wired", htmxReady(fmt.Sprintf(`#row-%d button.primary`, mat)))
	do(t, ctx, "break the price and save", chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-price", mat)), "twelve"),
		chromedp.SendKeys(chromedp.ID(fmt.Sprintf("p%d-name", mat)), kb.Enter))
	waitJS(t, ctx, "focus on the invalid price", fmt.Sprintf(`document.activeElement?.id === 'p%d-price'`, mat))
	do(t, ctx, "fix and save", chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-price", mat)), "31.00"),
		chromedp.SendKeys(chromedp.ID(fmt.Sprintf("p%d-price", mat)), kb.Enter))
	waitJS(t, ctx, "focus on the saved row", fmt.Sprintf(`document.activeElement === document.querySelector('#row-%d:not(.editing) button.edit')`, mat))

	// 4. A conflict shows mine and theirs; keep mine saves over theirs.
	do(t, ctx, "edit the lamp", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.edit`, lamp))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("p%d-name", lamp))))
	waitJS(t, ctx, "the lamp's edit row is wired", htmxReady(fmt.Sprintf(`#row-%d button.primary`, lamp)))
	cur, _ := e.cat.Get(context.Background(), lamp)
	cur.Name = "Shoes (theirs)"
	if _, err := e.cat.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "save mine", chromedp.SetValue(chromedp.ID(fmt.Sprintf("p%d-name", lamp)), "Shoes (mine)"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.primary`, lamp))))
	waitJS(t, ctx, "mine and theirs side by side", fmt.Sprintf(`(() => { const r = document.getElementById('row-%d');
		return r.querySelector('td.mine')?.innerText === 'Shoes (mine)' && r.querySelector('td.theirs')?.innerText === 'Shoes (theirs)'; })()`, lamp))
	// The conflict row is new content: click only once htmx has wired it,
	// or the click lands on a plain button and nothing is sent.
	waitJS(t, ctx, "the conflict row is wired", htmxReady(fmt.Sprintf(`#row-%d button.primary`, lamp)))
	do(t, ctx, "keep mine", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.primary`, lamp))))
	waitJS(t, ctx, "mine is saved", fmt.Sprintf(`document.querySelector('#row-%d:not(.editing) .pname')?.innerText === 'Shoes (mine)'`, lamp))
	if got, _ := e.cat.Get(context.Background(), lamp); got.Name != "Shoes (mine)" {
		t.Errorf("keep mine saved %q", got.Name)
	}
	// 11. Screen readers hear the badge turn indexed.
	e.indexAll(t)
	waitJS(t, ctx, "the badge change is announced", `document.getElementById('announcer').innerText.includes('“Shoes (mine)” is indexed')`)

	// 9. Delete needs no dialog, shows Undo, moves focus to the next row,
	// and the count follows; Undo brings the product back.
	next, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById('row-%d').nextElementSibling.id`, mat)))
	before, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#results [data-total]').innerText`))
	do(t, ctx, "delete the mat", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d button.danger`, mat))))
	waitJS(t, ctx, "Deleted · Undo", fmt.Sprintf(`document.querySelector('#row-%d.deleted')?.innerText.includes('Deleted')`, mat))
	waitJS(t, ctx, "focus on the next row", fmt.Sprintf(`document.activeElement === document.querySelector('#%s button.edit')`, next))
	after, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#results [data-total]').innerText`))
	if before == after {
		t.Errorf("the count did not follow the delete: %q", after)
	}
	do(t, ctx, "undo", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#row-%d.deleted button`, mat))))
	waitJS(t, ctx, "the product is back", `document.querySelector('#results tr.new[data-sku="MAT-1"]') !== null`)
	if _, total, _ := e.cat.List(context.Background(), catalog.ListOptions{}); total != len(ps)+len(gen) {
		t.Errorf("after undo the catalog has %d products, want %d", total, len(ps)+len(gen))
	}

	// 6. A new product is shown first, highlighted, with its badge, on a
	// sorted page where it would otherwise be far away.
	do(t, ctx, "open a sorted page", chromedp.Navigate(e.url+"/?sort=-price&page=2"))
	waitJS(t, ctx, "the create form is wired", htmxReady(`#create form`))
	do(t, ctx, "add a product",
		chromedp.Click(chromedp.CSS(`#create summary`)),
		chromedp.SetValue(chromedp.ID("new-name"), "Enamel teapot"),
		chromedp.SetValue(chromedp.ID("new-sku"), "POT-1"),
		chromedp.SetValue(chromedp.ID("new-price"), "18.50"),
		chromedp.SetValue(chromedp.ID("new-category"), "kitchen"),
		chromedp.SetValue(chromedp.ID("new-description"), "Enamel teapot that brews loose leaf tea"),
		chromedp.Click(chromedp.CSS(`#create button[type=submit]`)))
	waitJS(t, ctx, "the new product is first and highlighted", `(() => { const r = document.querySelector('#results tbody tr');
		return r?.dataset.sku === 'POT-1' && r.classList.contains('new') && r.querySelector('.badge') !== null; })()`)
	if p, _, err := e.cat.List(context.Background(), catalog.ListOptions{Sort: "newest", Limit: 1}); err != nil || len(p) == 0 || p[0].Category != "kitchen" {
		t.Errorf("the new product's category: %+v %v", p, err)
	}

	// Sorting and price filters while browsing.
	do(t, ctx, "sort by price", chromedp.Navigate(e.url+"/?min_price=100&max_price=200"),
		chromedp.Click(chromedp.CSS(`th.col-price a`)))
	waitJS(t, ctx, "sorted by price within the filter", `(() => { const ps = [...document.querySelectorAll('#results td.price')].map(td => parseFloat(td.innerText.slice(1).replace(',', '')));
		return ps.length > 0 && ps.every((p, i) => p >= 100 && p <= 200 && (i === 0 || p >= ps[i-1])) && document.querySelector('th.col-price').getAttribute('aria-sort') === 'ascending'; })()`)

	// 9. A bad filter is explained next to its field.
	do(t, ctx, "type a bad price", chromedp.SendKeys(chromedp.ID("min_price"), "abc"))
	waitJS(t, ctx, "Min price explained and marked", `document.getElementById('min_price-error')?.innerText.startsWith('Min price') && document.getElementById('min_price').getAttribute('aria-invalid') === 'true'`)
	noProblems(t, ctx, "the editor's workflow")

	// 10. The header sticks, descriptions are clamped with a control to
	// expand them, and "/" brings back the search box.
	do(t, ctx, "browse everything", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#results tbody tr`)))
	waitJS(t, ctx, "descriptions clamped to two lines", `[...document.querySelectorAll('#results td.name .desc')].every(d => d.getBoundingClientRect().height <= 2.2 * parseFloat(getComputedStyle(d).lineHeight))`)
	do(t, ctx, "expand a description", chromedp.Evaluate[chromedp.Void](`document.querySelector('#results button.more:not([hidden])').click()`))
	waitJS(t, ctx, "the description expands", `document.querySelector('#results td.name.expanded .desc').getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(document.querySelector('#results td.name.expanded .desc')).lineHeight)`)
	do(t, ctx, "scroll down", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 900)`))
	waitJS(t, ctx, "the header sticks", `Math.abs(document.querySelector('#results thead th').getBoundingClientRect().top) < 1`)
	do(t, ctx, "press /", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`), chromedp.KeyEvent("/"))
	waitJS(t, ctx, "the search box has the focus", `document.activeElement?.id === 'q'`)

	// 11. Borders of fields and the Delete button reach 3:1 against white;
	// the favicon exists.
	contrast, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const lum = c => { const [r, g, b] = c.match(/\d+/g).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
			return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		const ratio = c => 1.05 / (lum(c) + 0.05);
		return [ratio(getComputedStyle(document.getElementById('q')).borderTopColor),
			ratio(getComputedStyle(document.querySelector('button.danger')).borderTopColor)]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range contrast {
		if c < 3 {
			t.Errorf("border %d has contrast %.1f:1 against white, want at least 3:1", i, c)
		}
	}
	if code, _, _ := get(t, http.DefaultClient, e.url+"/favicon.ico"); code != http.StatusOK {
		t.Errorf("/favicon.ico = %d", code)
	}

	// 5. On a phone the filters fold and results are cards.
	do(t, ctx, "phone size", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.url+"/?q=travel+mug"),
		chromedp.WaitVisible(chromedp.CSS(`#results tbody tr`)))
	waitJS(t, ctx, "filters folded, cards shown", `!document.querySelector('details.filters').open && getComputedStyle(document.querySelector('#results tbody tr')).display === 'block'`)
	// Phones sort from the filters, since the column headers are hidden.
	do(t, ctx, "browse on the phone", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#results tbody tr`)),
		chromedp.Click(chromedp.CSS(`details.filters summary`)),
		chromedp.SetValue(chromedp.ID("sort"), "-price"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('sort').dispatchEvent(new Event('change', {bubbles: true}))`))
	waitJS(t, ctx, "sorted by price, high to low", `(() => { const ps = [...document.querySelectorAll('#results td.price')].map(td => parseFloat(td.innerText.slice(1).replace(',', '')));
		return new URLSearchParams(location.search).get('sort') === '-price' && ps.length > 1 && ps.every((p, i) => i === 0 || p <= ps[i-1]); })()`)
}

// formOnly offers the status page's index actions for the audit; the
// actions themselves are tested over HTTP in app.
type formOnly struct{}

func (formOnly) Create(context.Context, serve.IndexSpec) (string, error) {
	return "", errors.New("not in this test")
}
func (formOnly) Promote(context.Context, string, bool) error { return errors.New("not in this test") }
func (formOnly) Drop(context.Context, string) error          { return errors.New("not in this test") }
func (formOnly) Defaults() serve.IndexSpec {
	return serve.IndexSpec{Embedder: "hash", HashDim: 64}
}
