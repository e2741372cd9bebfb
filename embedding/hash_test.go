package embedding

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/refarch/refarch/internal/testkit"
)

func TestHash(t *testing.T) {
	t.Parallel()
	h := NewHash(0)
	if h.Dimension() != 64 || h.Model() != "hash-v1-64" {
		t.Errorf("NewHash(0): Dimension() = %d, Model() = %q; want 64, hash-v1-64", h.Dimension(), h.Model())
	}
	h = NewHash(32)
	texts := []string{"red garden hose", "Red garden HOSE!", "green garden hose", "espresso machine", "", "?!"}
	vecs, err := h.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	for i, v := range vecs {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if len(v) != 32 || math.Abs(ss-1) > 1e-6 {
			t.Errorf("vector %d for %q: length %d, squared norm %v; want 32, 1", i, texts[i], len(v), ss)
		}
	}
	if !slices.Equal(vecs[0], vecs[1]) {
		t.Errorf("case and punctuation changed the vector")
	}
	if near, far := testkit.Cosine(vecs[0], vecs[2]), testkit.Cosine(vecs[0], vecs[3]); near <= far {
		t.Errorf("texts sharing two words have cosine %v, no shared words %v", near, far)
	}
	wordless := make([]float32, 32)
	wordless[0] = 1
	for _, i := range []int{4, 5} {
		if !slices.Equal(vecs[i], wordless) {
			t.Errorf("vector for %q = %v, want the first unit vector", texts[i], vecs[i])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Embed(ctx, texts); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with a cancelled context: %v, want context.Canceled", err)
	}
}
