package serve_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// A client that reads a product, changes one field and writes the same body
// back succeeds; the read-only fields are checked or ignored, never refused.
func TestPutAcceptsTheBodyGetReturned(t *testing.T) {
	t.Parallel()
	ts := newAPI(t, nil)
	created := call(t, ts, "POST", "/api/products", `{"sku":"R-1","name":"Kettle","description":"Boils water","price":30,"category":"kitchen"}`)
	id := int(created.Body["id"].(float64))
	path := "/api/products/" + strconv.Itoa(id)

	got := call(t, ts, "GET", path, "")
	createdAt := got.Body["created_at"]
	body := got.Body
	body["description"] = "Boils water in two minutes"
	body["created_at"] = "2001-01-01T00:00:00Z" // ignored
	r := call(t, ts, "PUT", path, mustJSON(t, body))
	if r.Code != 200 || r.Body["description"] != "Boils water in two minutes" || r.Body["version"] != 2.0 ||
		r.Body["created_at"] != createdAt {
		t.Fatalf("PUT of GET's body = %d %s", r.Code, r.Raw)
	}
	// The same body again carries version 1: a lost update, refused.
	if r := call(t, ts, "PUT", path, mustJSON(t, body)); r.Code != 409 {
		t.Fatalf("PUT with a stale version = %d %s, want 409", r.Code, r.Raw)
	}
	// An id that disagrees with the path is a 400 naming the field.
	body = call(t, ts, "GET", path, "").Body
	body["id"] = id + 1000
	r = call(t, ts, "PUT", path, mustJSON(t, body))
	if r.Code != 400 || !strings.Contains(r.Raw, `"field":"id"`) {
		t.Fatalf("PUT with another id = %d %s, want 400 naming id", r.Code, r.Raw)
	}
	// POST assigns ids itself.
	if r := call(t, ts, "POST", "/api/products", `{"id":5,"sku":"R-2","name":"N","description":"D","price":1}`); r.Code != 400 || !strings.Contains(r.Raw, `"field":"id"`) {
		t.Fatalf("POST with an id = %d %s, want 400 naming id", r.Code, r.Raw)
	}
	if after := call(t, ts, "GET", path, ""); after.Body["version"] != 2.0 {
		t.Fatalf("refused writes changed the row: %s", after.Raw)
	}
}

// PATCH applies a JSON Merge Patch with PUT's validation and version guard.
func TestPatchIsAMergePatch(t *testing.T) {
	t.Parallel()
	ts := newAPI(t, nil)
	created := call(t, ts, "POST", "/api/products", `{"sku":"P-1","name":"Lamp","description":"Reading light","price":12,"category":"home"}`)
	path := "/api/products/" + strconv.Itoa(int(created.Body["id"].(float64)))

	r := call(t, ts, "PATCH", path, `{"price": 9.5}`)
	if r.Code != 200 || r.Body["price"] != 9.5 || r.Body["name"] != "Lamp" || r.Body["description"] != "Reading light" ||
		r.Body["category"] != "home" || r.Body["sku"] != "P-1" || r.Body["version"] != 2.0 {
		t.Fatalf(`PATCH {"price": 9.5} = %d %s`, r.Code, r.Raw)
	}
	// null removes a member: an optional one becomes empty...
	if r := call(t, ts, "PATCH", path, `{"category": null}`); r.Code != 200 || r.Body["category"] != "" {
		t.Fatalf("PATCH category null = %d %s", r.Code, r.Raw)
	}
	tests := []struct {
		name, body string
		code       int
		field      string
	}{
		{"stale version", `{"name":"Old","version":1}`, 409, ""},
		{"required field removed", `{"name":null}`, 422, "name"},
		{"negative price", `{"price":-1}`, 422, "price"},
		{"other id", `{"id":999999}`, 400, "id"},
		{"unknown field", `{"colour":"red"}`, 400, ""},
		{"not an object", `[1]`, 400, ""},
		{"not json", `{"price":`, 400, ""},
	}
	for _, tt := range tests {
		r := call(t, ts, "PATCH", path, tt.body)
		if r.Code != tt.code || (tt.field != "" && !strings.Contains(r.Raw, `"field":"`+tt.field+`"`)) {
			t.Errorf("%s: PATCH %s = %d %s, want %d naming %q", tt.name, tt.body, r.Code, r.Raw, tt.code, tt.field)
		}
	}
	after := call(t, ts, "GET", path, "")
	if after.Body["version"] != 3.0 || after.Body["price"] != 9.5 || after.Body["name"] != "Lamp" {
		t.Fatalf("refused patches changed the row: %s", after.Raw)
	}
	if r := call(t, ts, "PATCH", "/api/products/987654321", `{"price":1}`); r.Code != 404 {
		t.Fatalf("PATCH of a missing product = %d %s", r.Code, r.Raw)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
