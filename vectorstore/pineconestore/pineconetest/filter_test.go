package pineconetest

import (
	"encoding/json"
	"testing"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	meta := map[string]any{"category": "books", "price": 12.5, "product_id": 7.0}
	tests := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"category":"books"}`, true},
		{`{"category":{"$eq":"toys"}}`, false},
		{`{"category":{"$ne":"toys"}}`, true},
		{`{"price":{"$gte":12.5,"$lte":12.5}}`, true},
		{`{"price":{"$gt":12.5}}`, false},
		{`{"price":{"$lt":13}}`, true},
		{`{"category":{"$in":["toys","books"]}}`, true},
		{`{"category":{"$nin":["toys","books"]}}`, false},
		{`{"$and":[{"category":{"$eq":"books"}},{"price":{"$lte":10}}]}`, false},
		{`{"$or":[{"category":{"$eq":"toys"}},{"price":{"$lte":20}}]}`, true},
		{`{"color":{"$exists":false}}`, true},
		{`{"color":{"$eq":"red"}}`, false},
	}
	for _, tc := range tests {
		var f map[string]any
		if err := json.Unmarshal([]byte(tc.filter), &f); err != nil {
			t.Fatal(err)
		}
		got, err := match(f, meta)
		if err != nil || got != tc.want {
			t.Errorf("match(%s) = %v, %v; want %v", tc.filter, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"$xor":[]}`, `{"price":{"$near":1}}`, `{"$and":{}}`, `{"category":{"$gte":"a"}}`} {
		var f map[string]any
		json.Unmarshal([]byte(bad), &f) // a bad filter may not even parse
		if _, err := match(f, meta); err == nil {
			t.Errorf("match(%s) accepted an invalid filter", bad)
		}
	}
}
