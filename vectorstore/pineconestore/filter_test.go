package pineconestore

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/refarch/refarch/vectormeta"
)

func TestFilterStruct(t *testing.T) {
	t.Parallel()
	p := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		f    vectormeta.Filter
		want string
	}{
		{"empty", vectormeta.Filter{}, ""},
		{"category", vectormeta.Filter{Category: "books"}, `{"category":{"$eq":"books"}}`},
		{"min", vectormeta.Filter{MinPrice: p(5)}, `{"price":{"$gte":5}}`},
		{"range", vectormeta.Filter{MinPrice: p(5), MaxPrice: p(9.5)}, `{"price":{"$gte":5,"$lte":9.5}}`},
		{"both", vectormeta.Filter{Category: "toys", MaxPrice: p(0)},
			`{"$and":[{"category":{"$eq":"toys"}},{"price":{"$lte":0}}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := filterStruct(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if st != nil {
				b, err := protojson.MarshalOptions{}.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				got = compact(string(b))
			}
			if got != tc.want {
				t.Errorf("filter = %s, want %s", got, tc.want)
			}
		})
	}
}

// compact drops the spaces protojson inserts at random to discourage
// byte comparisons.
func compact(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestMetadataRoundTrip(t *testing.T) {
	t.Parallel()
	m := vectormeta.Metadata{ProductID: 1<<53 - 1, Version: 42, ContentHash: "abc", Model: "m", Category: "c", Price: 12.34}
	if got := metaFrom(metaStruct(m)); got != m {
		t.Errorf("round trip = %+v, want %+v", got, m)
	}
}
