package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// Without a ready search index, search answers from a bounded part of the
// catalog and says so in the API and the UI; a search over its time budget
// is refused with 503 and Retry-After, never left to run.
func TestSearchWithoutReadyIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newUI(t, "")
	e.add(t, product.Product{SKU: "IDX-1", Name: "Copper kettle", Description: "whistles when the water boils", Price: 3950, Category: "Kitchen"})
	e.indexAll(t)
	if err := e.store.DropIndex(ctx); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second}

	code, raw, _ := get(t, c, e.url+"/api/search?q=copper+kettle")
	var body struct {
		Results    []struct{ SKU string } `json:"results"`
		IndexReady bool                   `json:"index_ready"`
		Notice     string                 `json:"notice"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil || code != http.StatusOK || body.IndexReady || body.Notice == "" ||
		len(body.Results) == 0 || body.Results[0].SKU != "IDX-1" {
		t.Fatalf("search without the index = %d %s; want the kettle with index_ready false and a notice", code, raw)
	}
	if code, page, _ := get(t, c, e.url+"/?q=copper+kettle"); code != http.StatusOK || !strings.Contains(page, `id="index-building"`) {
		t.Errorf("UI search without the index (%d) shows no notice", code)
	}

	// A budget no search can meet.
	r := rand.New(rand.NewPCG(3, 4))
	vs := make([]vectorstore.Vector, 5000)
	for i := range vs {
		v := make([]float32, e.emb.Dimension())
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		vs[i] = vectorstore.Vector{ID: vectormeta.VectorID(int64(100000 + i)), Values: v, Meta: vectormeta.Metadata{ProductID: int64(100000 + i), Version: 1}}
	}
	if err := e.store.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	e.store.SetSearchOptions(pgvectorstore.SearchOptions{Timeout: time.Millisecond, ExactScanCap: 1_000_000})
	code, raw, hdr := get(t, c, e.url+"/api/search?q=something+else")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("search over its budget = %d (Retry-After %q) %s; want 503 with Retry-After", code, hdr.Get("Retry-After"), raw)
	}

	e.store.SetSearchOptions(pgvectorstore.SearchOptions{})
	if err := e.store.CreateIndex(ctx); err != nil {
		t.Fatal(err)
	}
	code, raw, _ = get(t, c, e.url+"/api/search?q=copper+kettle")
	if err := json.Unmarshal([]byte(raw), &body); err != nil || code != http.StatusOK || !body.IndexReady {
		t.Errorf("search with the index = %d %s; want index_ready true", code, raw)
	}
}

// /api/products pages by key and says whether its total is exact.
func TestProductsKeysetPages(t *testing.T) {
	t.Parallel()
	ts := newAPI(t, nil)
	for i := range 5 {
		r := call(t, ts, "POST", "/api/products", fmt.Sprintf(`{"sku":"K-%d","name":"Item %d","description":"d","price":"1.00","category":"c"}`, i, i))
		if r.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Code, r.Raw)
		}
	}
	first := call(t, ts, "GET", "/api/products?limit=2", "")
	next, ok := first.Body["next_after"].(float64)
	if first.Code != http.StatusOK || !ok || first.Body["total_exact"] != true || first.Body["total"] != float64(5) {
		t.Fatalf("first page = %d %s; want next_after, an exact total of 5", first.Code, first.Raw)
	}
	second := call(t, ts, "GET", fmt.Sprintf("/api/products?limit=2&after=%d", int64(next)), "")
	ps, _ := second.Body["products"].([]any)
	if second.Code != http.StatusOK || len(ps) != 2 || ps[0].(map[string]any)["id"].(float64) <= next {
		t.Errorf("page after %v = %d %s; want the next two products", next, second.Code, second.Raw)
	}
	last := call(t, ts, "GET", "/api/products?limit=2&after=1000000", "")
	if _, has := last.Body["next_after"]; last.Code != http.StatusOK || has {
		t.Errorf("page past the end = %d %s; want no next_after", last.Code, last.Raw)
	}
	if bad := call(t, ts, "GET", "/api/products?after=-1", ""); bad.Code != http.StatusBadRequest {
		t.Errorf("after=-1 = %d, want 400", bad.Code)
	}
}
