package serve

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/internal/buildinfo"
	"github.com/refarch/refarch/product"
)

// /api/openapi.json documents every route the server registers and every
// field of every JSON body, and nothing that does not exist.
func TestOpenAPIListsEveryRouteAndField(t *testing.T) {
	t.Parallel()
	srv := New(Config{}, Deps{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/openapi.json = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("decode the document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", doc.OpenAPI)
	}

	routes := srv.Routes()
	if len(routes) < 10 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	documented := map[string]bool{}
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.TrimSuffix(path, "{$}")
		var ops map[string]json.RawMessage
		if strings.HasSuffix(path, "/") && path != "/" {
			for p, o := range doc.Paths { // a prefix route, e.g. /static/
				if strings.HasPrefix(p, path) {
					path, ops = p, o
				}
			}
		} else {
			ops = doc.Paths[path]
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("route %q is not in the OpenAPI document", pattern)
		}
		documented[strings.ToLower(method)+" "+path] = true
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" && !documented[method+" "+path] {
				t.Errorf("the document has %s %s, which the server does not route", strings.ToUpper(method), path)
			}
		}
	}

	for name, typ := range map[string]any{
		"Product": product.Product{}, "ProductInput": productInput{}, "ProductPatch": productInput{},
		"ProductPage": productPage{}, "SearchHit": searchHit{}, "SearchResponse": searchBody{},
		"Error": apiError{}, "FieldError": product.FieldError{}, "Version": buildinfo.Info{},
	} {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		var fields []string
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if tag != "" && tag != "-" {
				fields = append(fields, tag)
			}
		}
		for _, f := range fields {
			if _, ok := schema.Properties[f]; !ok {
				t.Errorf("schema %s lacks field %q", name, f)
			}
		}
		for p := range schema.Properties {
			if !slices.Contains(fields, p) {
				t.Errorf("schema %s has %q, which %s does not", name, p, rt)
			}
		}
	}
}
