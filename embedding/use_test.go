package embedding

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/refarch/refarch/embedding/use"
	"github.com/refarch/refarch/embedding/use/usetest"
	"github.com/refarch/refarch/internal/testkit"
)

// useOnce loads the use embedder once for all tests in this package.
var useOnce = sync.OnceValues(func() (Embedder, error) {
	return Open(context.Background(), Options{Name: "use", ModelDir: os.Getenv(usetest.EnvModelDir)})
})

// semantic returns the use embedder, or skips when the model is not set up.
func semantic(t *testing.T) Embedder {
	t.Helper()
	usetest.ModelDir(t)
	e, err := useOnce()
	if err != nil {
		t.Fatalf("open use embedder: %v", err)
	}
	return e
}

func TestUseIdentity(t *testing.T) {
	t.Parallel()
	e := semantic(t)
	if e.Model() != "use-lite-512-v0.2.0" || e.Dimension() != 512 || e.MaxTokens() != use.MaxTokens {
		t.Errorf("Model() = %q, Dimension() = %d, MaxTokens() = %d; want use-lite-512-v0.2.0, 512, %d",
			e.Model(), e.Dimension(), e.MaxTokens(), use.MaxTokens)
	}
}

// TestUseSemantics checks that meaning, not spelling, decides closeness:
// each query must be closer to its related text than to an unrelated one,
// across the catalog's categories.
func TestUseSemantics(t *testing.T) {
	t.Parallel()
	e := semantic(t)
	triples := []struct{ query, near, far string }{
		{"AI", "artificial intelligence software", "garden hose"},
		{"AI", "machine learning platform for data science", "stainless steel frying pan"},
		{"laptop", "portable notebook computer with 16GB RAM", "wooden dining table"},
		{"headphones", "wireless over-ear earphones with noise cancelling", "organic potting soil"},
		{"smartphone", "mobile phone with triple camera", "dog leash and collar"},
		{"television", "4K ultra HD smart TV", "yoga mat"},
		{"charger", "USB-C power adapter for fast charging", "chess set"},
		{"kitchen knife", "stainless steel chef's knife", "running shoes"},
		{"coffee maker", "espresso machine with milk frother", "camping tent"},
		{"frying pan", "non-stick skillet for cooking", "plush teddy bear"},
		{"blender", "kitchen appliance for smoothies", "tennis racket"},
		{"tent", "two-person camping shelter", "lipstick"},
		{"hiking boots", "waterproof shoes for mountain trails", "espresso machine"},
		{"sleeping bag", "warm bedding for camping outdoors", "office stapler"},
		{"toy for toddlers", "colorful wooden building blocks for kids", "paper shredder"},
		{"remote control car", "RC race car toy", "face moisturizer"},
		{"board game", "family game night with dice and cards", "lawn mower"},
		{"mystery novel", "detective crime fiction book", "electric kettle"},
		{"cookbook", "book of recipes for home cooking", "bluetooth speaker"},
		{"children's book", "illustrated picture book for kids", "adjustable dumbbells"},
		{"lipstick", "matte red lip color makeup", "garden hose"},
		{"moisturizer", "hydrating face cream for dry skin", "soccer ball"},
		{"shampoo", "hair wash for curly hair", "desk organizer"},
		{"sunscreen", "SPF 50 sun protection lotion", "mechanical keyboard"},
		{"tennis", "tennis racket and balls", "cat scratching post"},
		{"dumbbells", "weights for strength training", "picture book"},
		{"bicycle helmet", "safety helmet for cycling", "scented candles"},
		{"soccer", "football for matches and training", "vitamin C serum"},
		{"office chair", "ergonomic desk seat with lumbar support", "fishing rod"},
		{"pens", "gel ink ballpoint writing pens", "puppy chew toys"},
		{"notebook paper", "spiral notebook for writing notes", "sunscreen"},
		{"garden hose", "expandable water hose for the yard", "smartphone"},
		{"pruning shears", "garden clippers for cutting branches", "board game"},
		{"potting soil", "organic compost for plants", "wireless mouse"},
		{"dog food", "grain-free kibble for dogs", "hardcover novel"},
		{"cat toy", "feather wand toy for kittens", "espresso machine"},
		{"aquarium", "fish tank with filter", "running shoes"},
		{"gift for a gamer", "mechanical gaming keyboard with RGB lighting", "garden hose"},
	}
	texts := make([]string, 0, 3*len(triples))
	for _, tr := range triples {
		texts = append(texts, tr.query, tr.near, tr.far)
	}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("embed: %v", err)
	}
	for i, tr := range triples {
		q, near, far := vecs[3*i], vecs[3*i+1], vecs[3*i+2]
		if cn, cf := testkit.Cosine(q, near), testkit.Cosine(q, far); cn <= cf {
			t.Errorf("%q: %q (%.3f) should be closer than %q (%.3f)", tr.query, tr.near, cn, tr.far, cf)
		}
	}
}

// TestUseOpenErrors checks that a missing model points to `make model`.
func TestUseOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), Options{Name: "use", ModelDir: t.TempDir()})
	if !errors.Is(err, use.ErrModelMissing) {
		t.Fatalf("Open with an empty model folder: %v, want ErrModelMissing", err)
	}
}

// TestDescribeLoadsNoModel: the id and dimension that name the index are
// known without the model's weights (pelican and the operator commands
// need only those), and agree with what the loaded embedders report.
func TestDescribeLoadsNoModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	missing := Options{Name: "use", ModelDir: t.TempDir()}
	if _, err := Open(ctx, missing); err == nil {
		t.Fatal("Open loaded a use model from an empty folder")
	}
	got, err := Describe(ctx, missing)
	if err != nil || got != (Info{Model: use.ModelID, Dimension: use.Dimension}) {
		t.Fatalf("Describe(use) = %+v, %v; want %s, %d without loading", got, err, use.ModelID, use.Dimension)
	}
	if got, err := Describe(ctx, Options{Name: "hash", HashDim: 32}); err != nil || got != InfoOf(NewHash(32)) {
		t.Errorf("Describe(hash 32) = %+v, %v; want %+v", got, err, InfoOf(NewHash(32)))
	}
	if _, err := Describe(ctx, Options{Name: "nope"}); err == nil {
		t.Error("Describe accepted an unknown embedder")
	}
	if dir := os.Getenv(usetest.EnvModelDir); dir != "" {
		e := semantic(t)
		if InfoOf(e) != (Info{Model: use.ModelID, Dimension: use.Dimension}) {
			t.Errorf("the loaded use model is %+v, Describe says %s, %d", InfoOf(e), use.ModelID, use.Dimension)
		}
	}
}
