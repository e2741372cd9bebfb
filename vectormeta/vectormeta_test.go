package vectormeta

import (
	"slices"
	"testing"
)

func TestParseVectorID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id      string
		want    int64
		wantErr bool
	}{
		{"1", 1, false},
		{"9223372036854775807", 1<<63 - 1, false},
		{"0", 0, true},
		{"-5", 0, true},
		{"", 0, true},
		{"12a", 0, true},
		{" 12", 0, true},
		{"9223372036854775808", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseVectorID(tc.id)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseVectorID(%q) = %d, %v; want %d, error %v", tc.id, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseVectorID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "+7", "007", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		n, err := ParseVectorID(id)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("ParseVectorID(%q) = %d, not a product id", id, n)
		}
		if again, err := ParseVectorID(VectorID(n)); err != nil || again != n {
			t.Fatalf("ParseVectorID(VectorID(%d)) = %d, %v", n, again, err)
		}
	})
}

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	p := func(f float64) *float64 { return &f }
	m := Metadata{Category: "books", Price: 10}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty", Filter{}, true},
		{"category", Filter{Category: "books"}, true},
		{"other category", Filter{Category: "toys"}, false},
		{"min inclusive", Filter{MinPrice: p(10)}, true},
		{"min above", Filter{MinPrice: p(10.01)}, false},
		{"max inclusive", Filter{MaxPrice: p(10)}, true},
		{"max below", Filter{MaxPrice: p(9.99)}, false},
		{"all", Filter{Category: "books", MinPrice: p(5), MaxPrice: p(20)}, true},
		{"all but category", Filter{Category: "toys", MinPrice: p(5), MaxPrice: p(20)}, false},
	}
	for _, tc := range tests {
		if got := tc.f.Match(m); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
		if tc.f.Empty() != (tc.name == "empty") {
			t.Errorf("%s: Empty = %v", tc.name, tc.f.Empty())
		}
	}
}

func TestFilterSQL(t *testing.T) {
	p := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		f     Filter
		where []string
		args  []any
	}{
		{Filter{}, nil, []any{"q"}},
		{Filter{Category: "books"}, []string{"p.category = $2"}, []any{"q", "books"}},
		{Filter{MinPrice: p(5), MaxPrice: p(20)}, []string{"p.price >= $2::float8", "p.price <= $3::float8"}, []any{"q", 5.0, 20.0}},
		{Filter{Category: "toys", MaxPrice: p(9.5)}, []string{"p.category = $2", "p.price <= $3::float8"}, []any{"q", "toys", 9.5}},
	} {
		where, args := tc.f.SQL("p.", []any{"q"})
		if !slices.Equal(where, tc.where) || !slices.Equal(args, tc.args) {
			t.Errorf("%+v: %q %v, want %q %v", tc.f, where, args, tc.where, tc.args)
		}
	}
}
