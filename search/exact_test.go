package search_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/refarch/refarch/search"
)

func TestExactSKUAndIDArePinnedFirstInEveryMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := strconv.FormatInt(f.ids["KT-1"], 10)
	for _, raw := range []string{"q=KT-1", "q=kt-1", "q=KT-1&mode=hybrid", "q=" + id, "q=" + id + "&mode=hybrid"} {
		resp, err := f.svc.Search(ctx, mustParse(t, raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if len(resp.Results) == 0 || resp.Results[0].Product.SKU != "KT-1" || resp.Results[0].Label != search.LabelExact || !resp.Found {
			t.Fatalf("%s: first result %+v, want KT-1 pinned as exact", raw, resp.Results)
		}
		seen := 0
		for _, r := range resp.Results {
			if r.Product.SKU == "KT-1" {
				seen++
			}
		}
		if seen != 1 {
			t.Errorf("%s: KT-1 appears %d times", raw, seen)
		}
	}
	resp, err := f.svc.Search(ctx, mustParse(t, "q=KT-1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Lookup != search.LookupSKU || resp.Results[0].Match != search.MatchSKU {
		t.Errorf("lookup %q match %q, want sku", resp.Lookup, resp.Results[0].Match)
	}
	// A SKU that no product has says so.
	resp, err = f.svc.Search(ctx, mustParse(t, "q=ZZ-999999"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Found || resp.Lookup != search.LookupSKU || len(resp.Results) != 0 || resp.Message == "" {
		t.Errorf("unknown SKU: found %v lookup %q results %d message %q", resp.Found, resp.Lookup, len(resp.Results), resp.Message)
	}
	// Filters still hold for exact matches.
	resp, err = f.svc.Search(ctx, mustParse(t, "q=KT-1&category=sports"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.Product.SKU == "KT-1" {
			t.Error("an exact match outside the category filter was shown")
		}
	}
}

func TestLookupOf(t *testing.T) {
	for text, want := range map[string]search.Lookup{
		"KIT-002299": search.LookupSKU, "ab12": search.LookupSKU, "X-1/B": search.LookupSKU, "42": search.LookupID,
		"kettle": search.LookupNone, "quiet keyboard": search.LookupNone, "KIT-": search.LookupNone, "0": search.LookupSKU, "-3": search.LookupNone,
	} {
		if got := search.LookupOf(text); got != want {
			t.Errorf("LookupOf(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestFloorHidesWeakMatchesUntilAskedFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	resp, err := f.svc.Search(ctx, mustParse(t, "q=zzqxv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 0 || resp.Weaker == 0 || resp.Message == "" || resp.Floor == 0 {
		t.Fatalf("nonsense query: %d results, %d weaker, floor %v, message %q; want none shown, weaker counted", len(resp.Results), resp.Weaker, resp.Floor, resp.Message)
	}
	weaker, err := f.svc.Search(ctx, mustParse(t, "q=zzqxv&min_score=0"))
	if err != nil {
		t.Fatal(err)
	}
	if len(weaker.Results) == 0 {
		t.Fatal("min_score=0 shows nothing")
	}
	for _, r := range weaker.Results {
		if r.Label != search.LabelWeak && r.Label != search.LabelGood && r.Label != search.LabelStrong {
			t.Errorf("weaker result labelled %q", r.Label)
		}
	}
	// A good query keeps its good results, graded.
	good, err := f.svc.Search(ctx, mustParse(t, "q=tennis+racket"))
	if err != nil {
		t.Fatal(err)
	}
	if len(good.Results) == 0 || good.Results[0].Product.SKU != "TN-1" || good.Results[0].Label == search.LabelWeak {
		t.Fatalf("tennis racket: %+v", good.Results)
	}
}

func TestLabelsAgreeAcrossModes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	vec, err := f.svc.Search(ctx, mustParse(t, "q=tennis+racket&min_score=-1"))
	if err != nil {
		t.Fatal(err)
	}
	hyb, err := f.svc.Search(ctx, mustParse(t, "q=tennis+racket&min_score=-1&mode=hybrid"))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[int64]search.Label{}
	for _, r := range vec.Results {
		labels[r.Product.ID] = r.Label
	}
	compared := 0
	for _, r := range hyb.Results {
		if want, ok := labels[r.Product.ID]; ok && r.HasSimilarity {
			compared++
			if r.Label != want {
				t.Errorf("%s: hybrid label %q, vector label %q", r.Product.SKU, r.Label, want)
			}
		}
		if r.Score > 0.05 {
			t.Errorf("hybrid raw score %v is not a fused rank score", r.Score)
		}
	}
	if compared == 0 {
		t.Fatal("no result in both modes")
	}
}

func TestSearchPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var all []int64
	for offset := 0; ; offset += 2 {
		resp, err := f.svc.Search(ctx, mustParse(t, fmt.Sprintf("q=tennis&k=2&min_score=-1&offset=%d", offset)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, resp.IDs()...)
		if !resp.More {
			// The last page has seen every candidate: the count is true.
			if resp.Total != len(items) || resp.Capped {
				t.Errorf("last page: total %d capped %v, want %d and not capped", resp.Total, resp.Capped, len(items))
			}
			break
		}
		if !resp.Capped {
			t.Errorf("offset %d: more results but the count claims to be complete", offset)
		}
		if offset > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != len(items) {
		t.Fatalf("pages gave %d products, want %d", len(all), len(items))
	}
	seen := map[int64]bool{}
	for _, id := range all {
		if seen[id] {
			t.Errorf("product %d on two pages", id)
		}
		seen[id] = true
	}
	if _, err := search.ParseQuery(map[string][]string{"q": {"a"}, "k": {"100"}, "offset": {"150"}}); err == nil {
		t.Error("offset+k past the window accepted")
	}
}
