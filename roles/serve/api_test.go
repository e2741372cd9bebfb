package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/roles/serve"
)

func newAPI(t *testing.T, ready func(context.Context) error) *httptest.Server {
	t.Helper()
	pool := pgtest.New(t)
	if ready == nil {
		ready = func(ctx context.Context) error { return pool.Ping(ctx) }
	}
	srv := serve.New(serve.Config{}, serve.Deps{
		Catalog:  catalog.NewStore(pool),
		Log:      slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Ready:    ready,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

type apiResponse struct {
	Code int
	Body map[string]any
	Raw  string
}

func call(t *testing.T, ts *httptest.Server, method, path, body string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := apiResponse{Code: resp.StatusCode, Raw: string(raw)}
	json.Unmarshal(raw, &out.Body) // some answers are empty
	return out
}

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	ts := newAPI(t, nil)
	if r := call(t, ts, "GET", "/healthz", ""); r.Code != 200 {
		t.Errorf("/healthz = %d %s", r.Code, r.Raw)
	}
	if r := call(t, ts, "GET", "/readyz", ""); r.Code != 200 || r.Body["status"] != "ready" {
		t.Errorf("/readyz = %d %s", r.Code, r.Raw)
	}
	call(t, ts, "GET", "/api/products", "")
	if r := call(t, ts, "GET", "/metrics", ""); r.Code != 200 || !strings.Contains(r.Raw, "refarch_http_request_duration_seconds") {
		t.Errorf("/metrics = %d, lacks the request histogram", r.Code)
	}

	down := newAPI(t, func(context.Context) error {
		return errors.New("database schema is at version 0: run `refarch migrate` first")
	})
	if r := call(t, down, "GET", "/readyz", ""); r.Code != 503 || !strings.Contains(r.Raw, "refarch migrate") {
		t.Errorf("/readyz when not ready = %d %s", r.Code, r.Raw)
	}
	if r := call(t, down, "GET", "/healthz", ""); r.Code != 200 {
		t.Errorf("/healthz must not depend on the database: %d", r.Code)
	}
}

func TestProductLifecycle(t *testing.T) {
	t.Parallel()
	ts := newAPI(t, nil)
	r := call(t, ts, "POST", "/api/products", `{"sku":"K-1","name":"Thermos","description":"Keeps drinks hot for 12 hours","price":19.99,"category":"kitchen"}`)
	if r.Code != 201 || r.Body["version"] != 1.0 || r.Body["price"] != 19.99 {
		t.Fatalf("create = %d %s", r.Code, r.Raw)
	}
	id := int(r.Body["id"].(float64))
	path := "/api/products/" + strconv.Itoa(id)
	if r := call(t, ts, "GET", path, ""); r.Code != 200 || r.Body["sku"] != "K-1" {
		t.Fatalf("get = %d %s", r.Code, r.Raw)
	}
	r = call(t, ts, "PUT", path, `{"sku":"K-1","name":"Thermos","description":"Keeps drinks hot for 24 hours","price":"21.50","category":"kitchen"}`)
	if r.Code != 200 || r.Body["version"] != 2.0 || r.Body["price"] != 21.5 {
		t.Fatalf("update = %d %s", r.Code, r.Raw)
	}
	// A stale version is refused and changes nothing.
	r = call(t, ts, "PUT", path, `{"sku":"K-1","name":"Old","description":"x","price":1,"category":"","version":1}`)
	if r.Code != 409 {
		t.Fatalf("stale update = %d %s, want 409", r.Code, r.Raw)
	}
	r = call(t, ts, "GET", "/api/products?limit=10", "")
	if r.Code != 200 || r.Body["total"] != 1.0 {
		t.Fatalf("list = %d %s", r.Code, r.Raw)
	}
	if r := call(t, ts, "DELETE", path, ""); r.Code != 204 {
		t.Fatalf("delete = %d %s", r.Code, r.Raw)
	}
	if r := call(t, ts, "GET", path, ""); r.Code != 404 {
		t.Fatalf("get after delete = %d %s", r.Code, r.Raw)
	}
	if r := call(t, ts, "DELETE", path, ""); r.Code != 404 {
		t.Fatalf("second delete = %d %s", r.Code, r.Raw)
	}
}

func TestBadEditsNameTheFieldAndChangeNothing(t *testing.T) {
	t.Parallel()
	ts := newAPI(t, nil)
	created := call(t, ts, "POST", "/api/products", `{"sku":"B-1","name":"Tent","description":"Sleeps four","price":199,"category":"outdoors"}`)
	call(t, ts, "POST", "/api/products", `{"sku":"B-2","name":"Stove","description":"Two burners","price":49,"category":"outdoors"}`)
	path := "/api/products/" + strconv.Itoa(int(created.Body["id"].(float64)))
	tests := []struct {
		name, body string
		code       int
		field      string
	}{
		{"negative price", `{"sku":"B-1","name":"Tent","description":"Sleeps four","price":-5,"category":"outdoors"}`, 422, "price"},
		{"price not a number", `{"sku":"B-1","name":"Tent","description":"Sleeps four","price":"cheap","category":"outdoors"}`, 422, "price"},
		{"three decimals", `{"sku":"B-1","name":"Tent","description":"Sleeps four","price":1.999,"category":"outdoors"}`, 422, "price"},
		{"missing price", `{"sku":"B-1","name":"Tent","description":"Sleeps four","category":"outdoors"}`, 422, "price"},
		{"missing price, blank name", `{"sku":"B-1","name":" ","description":"Sleeps four","category":"outdoors"}`, 422, "name"},
		{"empty name", `{"sku":"B-1","name":"  ","description":"Sleeps four","price":1,"category":"outdoors"}`, 422, "name"},
		{"name wrong type", `{"sku":"B-1","name":7,"description":"Sleeps four","price":1,"category":"outdoors"}`, 422, "name"},
		{"duplicate sku", `{"sku":"B-2","name":"Tent","description":"Sleeps four","price":1,"category":"outdoors"}`, 422, "sku"},
		{"unknown field", `{"sku":"B-1","name":"Tent","description":"Sleeps four","price":1,"colour":"red"}`, 400, ""},
		{"not json", `{"sku":`, 400, ""},
		{"trailing data", `{"sku":"B-1","name":"Tent","description":"Sleeps four","price":1}{}`, 400, ""},
	}
	for _, tt := range tests {
		r := call(t, ts, "PUT", path, tt.body)
		if r.Code != tt.code {
			t.Errorf("%s: status %d %s, want %d", tt.name, r.Code, r.Raw, tt.code)
			continue
		}
		if _, ok := r.Body["error"].(string); !ok {
			t.Errorf("%s: body %s has no error message", tt.name, r.Raw)
		}
		if tt.field != "" && !strings.Contains(r.Raw, `"field":"`+tt.field+`"`) {
			t.Errorf("%s: body %s does not name field %s", tt.name, r.Raw, tt.field)
		}
	}
	after := call(t, ts, "GET", path, "")
	if after.Body["version"] != 1.0 || after.Body["price"] != 199.0 || after.Body["name"] != "Tent" {
		t.Errorf("rejected edits changed the row: %s", after.Raw)
	}
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/api/products/abc", ""},
		{"GET", "/api/products?limit=100000", ""},
		{"GET", "/api/products?offset=-1", ""},
	} {
		if r := call(t, ts, tt.method, tt.path, tt.body); r.Code != 400 {
			t.Errorf("%s %s = %d %s, want 400", tt.method, tt.path, r.Code, r.Raw)
		}
	}
	// A form post (what a cross-site form can send) is not accepted as JSON.
	resp, err := http.Post(ts.URL+"/api/products", "application/x-www-form-urlencoded", strings.NewReader("sku=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("form post to the JSON API = %d, want 400", resp.StatusCode)
	}
}
