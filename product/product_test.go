package product

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParsePrice(t *testing.T) {
	tests := []struct {
		in      string
		want    Price
		wantErr bool
	}{
		{"344.87", 34487, false},
		{"$344.87", 34487, false},
		{"$1,299.00", 129900, false},
		{"12", 1200, false},
		{"0.5", 50, false},
		{".99", 99, false},
		{" 7.10 ", 710, false},
		{"-1.00", -100, false},
		{"", 0, true},
		{"$", 0, true},
		{"abc", 0, true},
		{"1.234", 0, true},
		{"1.", 0, true},
		{"1e3", 0, true},
		{"$-1", 0, true},
		{"1.2.3", 0, true},
		{"99999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := ParsePrice(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParsePrice(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPriceJSON(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Price
	}{{`12.5`, 1250}, {`"12.50"`, 1250}, {`0`, 0}, {`1999.99`, 199999}} {
		var p Price
		if err := json.Unmarshal([]byte(tt.in), &p); err != nil || p != tt.want {
			t.Errorf("unmarshal %s = %d, %v; want %d", tt.in, p, err, tt.want)
		}
		b, _ := json.Marshal(p)
		var back Price
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("round trip of %d via %s = %d, %v", p, b, back, err)
		}
	}
	var p Price
	for _, bad := range []string{`null`, `"x"`, `1.001`, `true`} {
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("unmarshal %s: accepted", bad)
		}
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	p := Product{SKU: "", Name: strings.Repeat("n", MaxName+1), Description: "", Price: -1, Category: "ok"}
	err := p.Validate()
	v, ok := AsValidation(err)
	if !ok {
		t.Fatalf("Validate = %v, want a ValidationError", err)
	}
	fields := map[string]bool{}
	for _, e := range v {
		fields[e.Field] = true
	}
	for _, f := range []string{"sku", "name", "description", "price"} {
		if !fields[f] {
			t.Errorf("no error for %s in %v", f, v)
		}
	}
	good := Product{SKU: "A-1", Name: "Thermos", Description: "keeps drinks hot", Price: 1999}
	if err := good.Validate(); err != nil {
		t.Errorf("valid product rejected: %v", err)
	}
}

func TestContentHashIgnoresPrice(t *testing.T) {
	a := Product{Name: "Thermos", Description: "keeps drinks hot", Price: 100}
	b := a
	b.Price = 200
	b.Category = "x"
	if ContentHash(a.EmbedText()) != ContentHash(b.EmbedText()) {
		t.Error("price or category changed the content hash")
	}
	b.Description = "keeps drinks cold"
	if ContentHash(a.EmbedText()) == ContentHash(b.EmbedText()) {
		t.Error("a new description kept the content hash")
	}
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"344.87", "$1,299.00", "", "-", "1.2.3", "9999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrice(s)
		if err != nil {
			return
		}
		back, err := ParsePrice(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePrice(%q) = %d, but its String %q parses to %d, %v", s, p, p.String(), back, err)
		}
	})
}
