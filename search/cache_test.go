package search

import (
	"context"
	"testing"
)

func TestQueryCacheEvictsLeastRecent(t *testing.T) {
	t.Parallel()
	c := newQueryCache(2)
	c.put("a", []float32{1})
	c.put("b", []float32{2})
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("c", []float32{3})
	if _, ok := c.get("b"); ok {
		t.Error("b should have been evicted")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	if c.len() != 2 {
		t.Errorf("len %d, want 2", c.len())
	}
}

// countingEmbedder counts Embed calls.
type countingEmbedder struct{ calls int }

func (e *countingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.calls++
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t))}
	}
	return out, nil
}

func TestEmbedUsesCache(t *testing.T) {
	t.Parallel()
	emb := &countingEmbedder{}
	s := New(emb, nil, nil, nil)
	for i := range 3 {
		for _, q := range []string{"one", "two"} {
			v, err := s.embed(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if v[0] != float32(len(q)) {
				t.Fatalf("round %d: wrong vector %v for %q", i, v, q)
			}
		}
	}
	if emb.calls != 2 {
		t.Errorf("embedder called %d times for 2 distinct queries, want 2", emb.calls)
	}
}
