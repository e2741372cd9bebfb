package queuemsg

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
)

func sample() Message {
	at := time.Date(2026, 11, 25, 22, 0, 0, 123456000, time.UTC)
	p := &product.Product{ID: 7, SKU: "SKU-7", Name: "Lamp", Description: "A warm desk lamp", Price: 1999,
		Category: "home", CreatedAt: at, UpdatedAt: at, Version: 3}
	old := *p
	old.Version = 2
	old.Price = 1899
	return Message{Op: OpUpsert, Source: SourceOutbox, ProductID: 7, Version: 3, ChangedAt: at, New: p, Old: &old}
}

func TestRoundTrip(t *testing.T) {
	del := sample()
	del.Op, del.New, del.Version = OpDelete, nil, 4
	bare := del
	bare.Old, bare.Source = nil, ""
	for name, m := range map[string]Message{"upsert": sample(), "delete": del, "bare delete": bare} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if got.Op != m.Op || got.Source != m.Source || got.ProductID != m.ProductID || got.Version != m.Version || !got.ChangedAt.Equal(m.ChangedAt) {
				t.Fatalf("got %+v, want %+v", got, m)
			}
			if (got.New == nil) != (m.New == nil) {
				t.Fatalf("records: got new=%v old=%v, want new=%v old=%v", got.New, got.Old, m.New, m.Old)
			}
			// Records are not sent: new is a stub of id and version.
			if m.New != nil && (*got.New != product.Product{ID: m.ProductID, Version: m.Version} || got.Old != nil) {
				t.Fatalf("records: got new %+v old %+v, want a stub and no old record", *got.New, got.Old)
			}
		})
	}
}

func TestOutgoing(t *testing.T) {
	o, err := Outgoing(sample())
	if err != nil {
		t.Fatal(err)
	}
	if o.Group != "7" || o.DedupID != "7-3" {
		t.Fatalf("group %q dedup %q, want 7 and 7-3", o.Group, o.DedupID)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "decode message"},
		{"not json", `hello`, "decode message"},
		{"array", `[]`, "decode message"},
		{"null", `null`, `"v" is missing`},
		{"version zero", strings.Replace(g, `"v":1`, `"v":0`, 1), "schema version 0 is not supported"},
		{"no version", strings.Replace(g, `"v":1,`, ``, 1), `"v" is missing`},
		{"no op", strings.Replace(g, `"op":"upsert",`, ``, 1), `"op" is missing`},
		{"wrong op", strings.Replace(g, `"op":"upsert"`, `"op":"insert"`, 1), `op "insert"`},
		{"wrong source", strings.Replace(g, `"source":"outbox"`, `"source":"magic"`, 1), `source "magic"`},
		{"no product id", strings.Replace(g, `"product_id":7,`, ``, 1), `"product_id" is missing`},
		{"zero product id", strings.Replace(g, `"product_id":7`, `"product_id":0`, 1), "must be positive"},
		{"negative version", strings.Replace(g, `"version":3,"changed_at"`, `"version":-3,"changed_at"`, 1), "must be positive"},
		{"string version", strings.Replace(g, `"version":3,"changed_at"`, `"version":"3","changed_at"`, 1), "decode message"},
		{"no changed_at", strings.Replace(g, `"changed_at":"2026-11-25T22:00:00.123456Z",`, ``, 1), `"changed_at" is missing`},
		{"bad changed_at", strings.Replace(g, `"changed_at":"2026-11-25T22:00:00.123456Z"`, `"changed_at":"yesterday"`, 1), "decode message"},
		{"record not an object", strings.Replace(g, `"new":{"id":7,"version":3}`, `"new":7`, 1), "new record"},
		{"delete with new", strings.Replace(g, `"op":"upsert"`, `"op":"delete"`, 1), "must not carry a new record"},
		{"record of another product", strings.Replace(g, `"new":{"id":7`, `"new":{"id":8`, 1), "new record is product 8"},
		{"record of another version", strings.Replace(g, `"version":3,"changed_at"`, `"version":5,"changed_at"`, 1), "new record is version 3"},
		{"trailing data", g + ` {}`, "trailing data"},
		{"trailing garbage", g + `x`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.body == g {
				t.Fatal("test case did not change the message")
			}
			_, err := Decode([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%s) = %v, want error containing %q", tt.body, err, tt.want)
			}
		})
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	m := sample()
	m.ProductID = 0
	if _, err := Encode(m); err == nil {
		t.Fatal("encoded a message without a product id")
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add([]byte(`{"v":1,"op":"delete","product_id":1,"version":2,"changed_at":"2026-01-01T00:00:00Z","new":null,"old":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must be valid and survive a round trip.
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%s", err, out)
		}
		if again.ProductID != m.ProductID || again.Version != m.Version || again.Op != m.Op {
			t.Fatalf("round trip changed the message: %+v vs %+v", again, m)
		}
	})
}

// The message carries only what emu needs, whatever the row holds: a huge
// description or characters SQS refuses never reach the body.
func TestBodyCarriesNoRecord(t *testing.T) {
	m := sample()
	m.New.Description = strings.Repeat("long words \uffff ", 30000)
	m.Old.Name = "\ufffe"
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 300 {
		t.Fatalf("body is %d bytes: %s", len(b), b[:300])
	}
	for _, c := range string(b) {
		if c > 0x7e || c < 0x20 {
			t.Fatalf("body holds %U: %s", c, b)
		}
	}
}

// Rolling deploys: this release reads what the previous one wrote (full
// records) and messages with fields it does not know; the previous
// release's strict decoder reads what this one writes; a newer schema is
// ErrNewerVersion, not a malformed message.
func TestTolerantReaderAndCompatibility(t *testing.T) {
	old := `{"v":1,"op":"upsert","source":"outbox","product_id":7,"version":3,"changed_at":"2026-11-25T22:00:00.123456Z",` +
		`"new":{"id":7,"sku":"SKU-7","name":"Lamp","description":"A warm desk lamp","price":19.99,"category":"home",` +
		`"created_at":"2026-11-25T22:00:00.123456Z","updated_at":"2026-11-25T22:00:00.123456Z","version":3},"old":null}`
	for name, body := range map[string]string{
		"previous release":     old,
		"unknown field":        strings.Replace(old, `{"v":1`, `{"v":1,"trace_id":"abc"`, 1),
		"unknown record field": strings.Replace(old, `"sku":"SKU-7"`, `"sku":"SKU-7","color":"red"`, 1),
		"no records":           `{"v":1,"op":"upsert","product_id":7,"version":3,"changed_at":"2026-11-25T22:00:00Z"}`,
	} {
		m, err := Decode([]byte(body))
		if err != nil || m.ProductID != 7 || m.Version != 3 || m.Op != OpUpsert {
			t.Errorf("%s: Decode = %+v, %v", name, m, err)
		}
	}

	// The previous release decoded strictly: every field known, v == 1,
	// new and old present, an upsert's new record of the message's product
	// and version.
	for _, m := range []Message{sample(), {Op: OpDelete, ProductID: 7, Version: 4, ChangedAt: time.Now()}} {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var w struct {
			V         int              `json:"v"`
			Op        Op               `json:"op"`
			Source    Source           `json:"source"`
			ProductID int64            `json:"product_id"`
			Version   int64            `json:"version"`
			ChangedAt time.Time        `json:"changed_at"`
			New       *product.Product `json:"new"`
			Old       *product.Product `json:"old"`
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.DisallowUnknownFields()
		if err := d.Decode(&w); err != nil {
			t.Fatalf("the previous release cannot decode %s: %v", b, err)
		}
		if w.V != 1 || !strings.Contains(string(b), `"new":`) || !strings.Contains(string(b), `"old":null`) ||
			(m.Op == OpUpsert && (w.New == nil || w.New.ID != m.ProductID || w.New.Version != m.Version)) {
			t.Fatalf("the previous release would reject %s", b)
		}
	}

	_, err := Decode([]byte(strings.Replace(old, `"v":1`, `"v":3`, 1)))
	if !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("a version 3 message: %v, want ErrNewerVersion", err)
	}
	// A range is version 2: the previous release hands it back for a newer
	// worker instead of failing it.
	b, err := Encode(Message{Op: OpRange, Source: SourceCatchup, Lo: 1, Hi: 500})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"v":2`) {
		t.Fatalf("range %s: want schema version 2", b)
	}
}

// A range names a chunk of product ids, travels on the backfill lane in a
// group of its own, and is checked like any message.
func TestRange(t *testing.T) {
	m := Message{Op: OpRange, Source: SourceCatchup, Lo: 501, Hi: 1000, Generation: "hash-v1-64"}
	o, err := Outgoing(m)
	if err != nil {
		t.Fatal(err)
	}
	if o.Group != "range-501-1000" || o.DedupID != "" || o.Lane != queue.LaneBackfill {
		t.Fatalf("outgoing %+v: want group range-501-1000, no dedup id, the backfill lane", o)
	}
	got, err := Decode(o.Body)
	if err != nil {
		t.Fatalf("decode %s: %v", o.Body, err)
	}
	if got.Op != OpRange || got.Lo != 501 || got.Hi != 1000 || got.Source != SourceCatchup || got.Generation != m.Generation {
		t.Fatalf("got %+v, want %+v", got, m)
	}
	for name, bad := range map[string]Message{
		"empty":             {Op: OpRange, Source: SourceCatchup, Lo: 10, Hi: 9},
		"zero":              {Op: OpRange, Source: SourceCatchup, Lo: 0, Hi: 9},
		"from outbox":       {Op: OpRange, Source: SourceOutbox, Lo: 1, Hi: 9},
		"record":            {Op: OpRange, Source: SourceCatchup, Lo: 1, Hi: 9, New: &product.Product{ID: 1}},
		"upsert of a range": {Op: OpUpsert, Source: SourceCatchup, ProductID: 1, Version: 1, ChangedAt: time.Now(), Lo: 1, Hi: 9},
	} {
		if _, err := Encode(bad); err == nil {
			t.Errorf("%s: Encode accepted %+v", name, bad)
		}
	}
	for name, body := range map[string]string{
		"no hi":   `{"v":2,"op":"range","source":"catchup","lo":1}`,
		"reverse": `{"v":2,"op":"range","source":"catchup","lo":9,"hi":1}`,
	} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("%s: Decode accepted %s", name, body)
		}
	}
}
