package use

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/refarch/refarch/embedding/use/usetest"
	"github.com/refarch/refarch/internal/testkit"
)

// fixture is testdata/fixture.json, made by tools/embedref/make-fixture.sh
// with the JavaScript reference.
type fixture struct {
	Entries []struct {
		Text  string  `json:"text"`
		IDs   []int   `json:"ids"`
		Scale float32 `json:"scale"`
		Q     string  `json:"q"`
		Error string  `json:"error"`
	} `json:"entries"`
}

func readFixture(t testing.TB) fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fixture.json"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	if len(f.Entries) < 200 {
		t.Fatalf("fixture has %d entries, want at least 200", len(f.Entries))
	}
	return f
}

// loadModel loads the model once per test binary; loading takes about a
// second and the model is safe for concurrent use.
var loadModel = sync.OnceValues(func() (*Model, error) {
	return Load(os.Getenv(usetest.EnvModelDir))
})

func testModel(t testing.TB) *Model {
	t.Helper()
	usetest.ModelDir(t)
	m, err := loadModel()
	if err != nil {
		t.Fatalf("load model: %v", err)
	}
	return m
}

// TestTokenizerMatchesReference checks every fixture text's ids exactly.
func TestTokenizerMatchesReference(t *testing.T) {
	t.Parallel()
	m := testModel(t)
	for _, e := range readFixture(t).Entries {
		got := m.tok.Encode(e.Text)
		if !slices.Equal(got, e.IDs) && !(len(got) == 0 && len(e.IDs) == 0) {
			t.Errorf("Encode(%q) = %v, want %v", e.Text, got, e.IDs)
		}
	}
}

// TestEmbedMatchesReference checks every fixture vector, embedding the
// whole fixture as one batch (so padding and stacking are exercised) and
// text by text.
func TestEmbedMatchesReference(t *testing.T) {
	t.Parallel()
	m := testModel(t)
	f := readFixture(t)
	texts := make([]string, len(f.Entries))
	for i, e := range f.Entries {
		texts[i] = e.Text
	}
	batch, err := m.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("embed fixture batch: %v", err)
	}
	if len(batch) != len(texts) {
		t.Fatalf("embed returned %d vectors for %d texts", len(batch), len(texts))
	}
	worst := 1.0
	for i, e := range f.Entries {
		one, err := m.Embed(context.Background(), []string{e.Text})
		if err != nil {
			t.Fatalf("embed %q: %v", e.Text, err)
		}
		for _, v := range [][]float32{batch[i], one[0]} {
			if len(v) != Dimension {
				t.Fatalf("embed %q: dimension %d", e.Text, len(v))
			}
			if norm := math.Sqrt(dotf(v, v)); !(math.Abs(norm-1) <= 1e-5) { // a NaN norm fails too
				t.Errorf("embed %q: norm %v, want 1", e.Text, norm)
			}
		}
		if c := testkit.Cosine(batch[i], one[0]); c < 0.99999 {
			t.Errorf("embed %q: batch and single vectors differ, cosine %v", e.Text, c)
		}
		if e.Error != "" {
			continue // the reference gives no vector; see TestEmptyText
		}
		q, err := base64.StdEncoding.DecodeString(e.Q)
		if err != nil || len(q) != Dimension {
			t.Fatalf("fixture vector for %q: %d bytes, %v", e.Text, len(q), err)
		}
		want := make([]float32, Dimension)
		for j, b := range q {
			want[j] = float32(int8(b)) * e.Scale
		}
		c := testkit.Cosine(batch[i], want)
		if c < 0.999 {
			t.Errorf("embed %q: cosine to reference %.5f, want >= 0.999", e.Text, c)
		}
		worst = min(worst, c)
	}
	t.Logf("lowest cosine to the reference over %d texts: %.6f (kernel %s)", len(f.Entries), worst, m.Kernel())
}

func dotf(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestEmptyText pins the behaviour for texts with no tokens: the reference
// rejects them, the Go model returns the zero-length sequence's vector,
// the same for every such text and in any batch position.
func TestEmptyText(t *testing.T) {
	t.Parallel()
	m := testModel(t)
	if ids := m.Tokenize(""); len(ids) != 0 {
		t.Fatalf("Tokenize(\"\") = %v, want no ids", ids)
	}
	vecs, err := m.Embed(context.Background(), []string{"", "hello", ""})
	if err != nil {
		t.Fatalf("embed empty texts: %v", err)
	}
	want := make([]float32, Dimension)
	var ss float64
	for j, b := range m.tanhBias {
		want[j] = float32(math.Tanh(float64(b)))
		ss += float64(want[j]) * float64(want[j])
	}
	for j := range want {
		want[j] /= float32(math.Sqrt(ss))
	}
	for _, i := range []int{0, 2} {
		if c := testkit.Cosine(vecs[i], want); c < 0.99999 {
			t.Errorf("vector %d for empty text: cosine to normalized tanh(bias) %v", i, c)
		}
	}
	if c := testkit.Cosine(vecs[0], vecs[1]); c > 0.99 {
		t.Errorf("empty text and \"hello\" share a vector (cosine %v)", c)
	}
}

// TestTruncation checks that text past MaxTokens is ignored, for indexing
// and queries alike.
func TestTruncation(t *testing.T) {
	t.Parallel()
	m := testModel(t)
	base := ""
	for range 200 {
		base += "garden hose "
	}
	ids := m.Tokenize(base)
	if len(ids) != MaxTokens {
		t.Fatalf("Tokenize(long) has %d ids, want %d", len(ids), MaxTokens)
	}
	vecs, err := m.Embed(context.Background(), []string{base, base + " completely different words about space rockets"})
	if err != nil {
		t.Fatalf("embed: %v", err)
	}
	if c := testkit.Cosine(vecs[0], vecs[1]); c < 0.99999 {
		t.Errorf("texts equal in their first %d tokens differ: cosine %v", MaxTokens, c)
	}
}

// TestLoadErrors checks that a missing or broken model folder says how to
// get the model.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "vocab.json"), []byte(`[["a",0]]`), 0o644); err != nil {
		t.Fatal(err)
	}
	type loadCase struct{ name, dir, want string }
	huge := t.TempDir() // a shape whose size in bytes overflows int
	for name, content := range map[string]string{
		"vocab.json": `[["a",0],["b",0],["c",0],["d",0],["e",0],["f",0],["g",0]]`,
		"model.json": `{"weightsManifest":[{"paths":["s"],"weights":[{"name":"w","shape":[4611686018427387904],"dtype":"float32"}]}]}`,
		"s":          "abcd",
	} {
		if err := os.WriteFile(filepath.Join(huge, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []loadCase{
		{"unset", "", "no model folder given"},
		{"empty folder", empty, "vocab.json"},
		{"bad vocabulary", broken, "too few"},
		{"no such folder", filepath.Join(empty, "nope"), "no such file"},
		{"huge shape", huge, "cannot hold weight w"},
	}
	if src := os.Getenv(usetest.EnvModelDir); src != "" {
		// The real model without its last shard, and with it one byte short.
		const lastShard = "group1-shard7of7"
		missing, truncated := t.TempDir(), t.TempDir()
		files, err := filepath.Glob(filepath.Join(src, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if filepath.Base(f) == lastShard {
				continue
			}
			for _, dir := range []string{missing, truncated} {
				if err := os.Symlink(f, filepath.Join(dir, filepath.Base(f))); err != nil {
					t.Fatal(err)
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(src, lastShard))
		if err != nil {
			t.Fatalf("read model shard: %v", err)
		}
		if err := os.WriteFile(filepath.Join(truncated, lastShard), b[:len(b)-1], 0o644); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, loadCase{"missing shard", missing, lastShard}, loadCase{"truncated shard", truncated, "shards end before weight"})
	}
	for _, tc := range cases {
		_, err := Load(tc.dir)
		if !errors.Is(err, ErrModelMissing) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load error %v, want one wrapping ErrModelMissing and containing %q", tc.name, err, tc.want)
		}
	}
}

// TestConcurrentEmbed checks that concurrent callers, which share the
// model and its pool of workspaces, get the same vectors as one caller.
func TestConcurrentEmbed(t *testing.T) {
	t.Parallel()
	m := testModel(t)
	texts := []string{"wireless headphones", "garden hose with spray nozzle", "AI", "a longer text about camping tents and sleeping bags for the whole family"}
	want, err := m.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("embed: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each caller sends the texts in a different order and batch size.
			for i := range texts {
				j := (i + g) % len(texts)
				got, err := m.Embed(context.Background(), texts[j:])
				if err != nil {
					errs <- err
					return
				}
				if c := testkit.Cosine(got[0], want[j]); c < 0.99999 {
					errs <- fmt.Errorf("caller %d text %d: cosine %v", g, j, c)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEmbedCancelled(t *testing.T) {
	t.Parallel()
	m := testModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Embed(ctx, []string{"hello"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Embed with a cancelled context: %v, want context.Canceled", err)
	}
}
