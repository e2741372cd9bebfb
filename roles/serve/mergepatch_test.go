package serve

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The examples of RFC 7396, Appendix A.
func TestMergePatchRFC7396Examples(t *testing.T) {
	t.Parallel()
	tests := []struct{ doc, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		// Numbers pass through as written: no float64 rounding of big ids.
		{`{"id":9007199254740993}`, `{"price":9.50}`, `{"id":9007199254740993,"price":9.50}`},
	}
	for _, tt := range tests {
		got, err := mergePatch([]byte(tt.doc), []byte(tt.patch))
		if err != nil {
			t.Errorf("mergePatch(%s, %s): %v", tt.doc, tt.patch, err)
			continue
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("mergePatch(%s, %s) = %s, want %s", tt.doc, tt.patch, got, tt.want)
		}
	}
	if string(must(mergePatch([]byte(`{"id":9007199254740993}`), []byte(`{}`)))) != `{"id":9007199254740993}` {
		t.Error("a large id lost precision")
	}
	for _, bad := range []string{``, `{`, `{}{}`, `nul`} {
		if _, err := mergePatch([]byte(`{}`), []byte(bad)); err == nil {
			t.Errorf("mergePatch accepted patch %q", bad)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Any patch either fails with an error or yields valid JSON; applying an
// object patch twice gives what applying it once gave (merge patches are
// idempotent).
func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1}}`), []byte(`{"a":{"b":null,"c":[1]}}`))
	f.Add([]byte(`{"price":"1.00"}`), []byte(`{"price":9.5}`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		once, err := mergePatch(doc, patch)
		if err != nil {
			return
		}
		if !json.Valid(once) {
			t.Fatalf("invalid JSON %s", once)
		}
		twice, err := mergePatch(once, patch)
		if err != nil {
			t.Fatalf("second application: %v", err)
		}
		var a, b any
		json.Unmarshal(once, &a)  // checked valid above
		json.Unmarshal(twice, &b) // produced by json.Marshal
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not idempotent: %s then %s", once, twice)
		}
	})
}
