package embedding

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/testkit"
)

// fakeOllama implements POST /api/embed the way Ollama does: input is a
// string or a list of strings, vectors come back in order. failures lists
// the status codes to answer with before answering properly.
type fakeOllama struct {
	model    string
	dim      int
	mu       sync.Mutex
	failures []int
	requests int
	batches  []int
}

func (f *fakeOllama) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/embed" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Model string `json:"model"`
		Input any    `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests++
	if len(f.failures) > 0 {
		code := f.failures[0]
		f.failures = f.failures[1:]
		f.mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":"try again"}`))
		return
	}
	f.mu.Unlock()
	if req.Model != f.model {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"model \"` + req.Model + `\" not found, try pulling it first"}`))
		return
	}
	var inputs []string
	switch in := req.Input.(type) {
	case string:
		inputs = []string{in}
	case []any:
		for _, s := range in {
			inputs = append(inputs, s.(string))
		}
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(inputs))
	f.mu.Unlock()
	out := make([][]float32, len(inputs))
	for i, s := range inputs {
		out[i] = make([]float32, f.dim)
		for j := range out[i] {
			h := fnv.New32a()
			h.Write([]byte{byte(j)})
			h.Write([]byte(s))
			out[i][j] = float32(h.Sum32()%1000) + 1 // deliberately not unit length
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"model": f.model, "embeddings": out})
}

func newFake(t *testing.T, dim int, failures ...int) (*fakeOllama, *httptest.Server) {
	f := &fakeOllama{model: "fake-embed:latest", dim: dim, failures: failures}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestOllamaEmbed(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t, 24)
	o, err := NewOllama(context.Background(), OllamaConfig{Host: srv.URL, Model: f.model, BatchSize: 4})
	if err != nil {
		t.Fatalf("NewOllama: %v", err)
	}
	if o.Dimension() != 24 {
		t.Errorf("Dimension() = %d, want 24 (learned from the server)", o.Dimension())
	}
	if got, want := o.Model(), "ollama-fake-embed-latest-24"; got != want {
		t.Errorf("Model() = %q, want %q", got, want)
	}
	texts := []string{"a", "b", "c", "d", "e", "f", "g", "a", "i", "j"}
	vecs, err := o.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(vecs) != len(texts) {
		t.Fatalf("Embed returned %d vectors for %d texts", len(vecs), len(texts))
	}
	for i, v := range vecs {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.Abs(ss-1) > 1e-5 {
			t.Errorf("vector %d has squared norm %v, want 1", i, ss)
		}
	}
	if vecs[0][0] != vecs[7][0] || vecs[0][0] == vecs[1][0] {
		t.Errorf("vectors are not in input order")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// One probe, then batches of at most 4.
	if want := []int{1, 4, 4, 2}; !slices.Equal(f.batches, want) {
		t.Errorf("batches sent = %v, want %v", f.batches, want)
	}
}

func TestOllamaRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		failures []int
		wantErr  string
		requests int
	}{
		{"server error then success", []int{500, 503}, "", 3},
		{"rate limited then success", []int{429, 429, 429}, "", 4},
		{"gives up after attempts", []int{500, 500, 500, 500, 500}, "attempt 4 of 4", 4},
		{"bad request is not retried", []int{400}, "answered 400", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFake(t, 8, tc.failures...)
			_, err := NewOllama(context.Background(), OllamaConfig{Host: srv.URL, Model: f.model, Backoff: time.Millisecond})
			if tc.wantErr == "" && err != nil {
				t.Fatalf("NewOllama: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("NewOllama error %v, want one containing %q", err, tc.wantErr)
			}
			// Exhausted retries of server errors say nothing about the
			// texts; a rejected request does.
			if tc.wantErr != "" && errors.Is(err, ErrTransient) != (tc.failures[0] >= 500) {
				t.Errorf("NewOllama error %v: transient %v", err, errors.Is(err, ErrTransient))
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.requests != tc.requests {
				t.Errorf("server saw %d requests, want %d", f.requests, tc.requests)
			}
		})
	}
}

func TestOllamaErrors(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t, 8)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	for _, tc := range []struct {
		name    string
		cfg     OllamaConfig
		wantErr string
	}{
		{"model not pulled", OllamaConfig{Host: srv.URL, Model: "missing-model"}, "ollama pull missing-model"},
		{"server down", OllamaConfig{Host: downURL, Model: f.model, Backoff: time.Millisecond}, "unreachable"},
		{"no model", OllamaConfig{Host: srv.URL}, "needs a model name"},
		{"bad host", OllamaConfig{Host: "not a url", Model: f.model}, "parse ollama host"},
	} {
		_, err := NewOllama(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestOllamaStopsOnCancel(t *testing.T) {
	t.Parallel()
	f := &fakeOllama{model: "fake-embed:latest", dim: 8, failures: []int{500, 500, 500}}
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the first failure has been served: the client is then
	// reading the answer or waiting an hour to retry.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ServeHTTP(w, r)
		cancel()
	}))
	t.Cleanup(srv.Close)
	_, err := NewOllama(ctx, OllamaConfig{Host: srv.URL, Model: f.model, Backoff: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("NewOllama error %v, want context.Canceled", err)
	}
}

// TestOllamaIntegration runs against a real server when
// REFARCH_OLLAMA_TEST_HOST is set (make test-ollama); the model is
// REFARCH_OLLAMA_TEST_MODEL, default nomic-embed-text.
func TestOllamaIntegration(t *testing.T) {
	host := os.Getenv("REFARCH_OLLAMA_TEST_HOST")
	if host == "" {
		t.Skip("REFARCH_OLLAMA_TEST_HOST is unset: no real Ollama server to test against")
	}
	model := os.Getenv("REFARCH_OLLAMA_TEST_MODEL")
	if model == "" {
		model = "nomic-embed-text"
	}
	ctx := context.Background()
	e, err := Open(ctx, Options{Name: "ollama", OllamaHost: host, OllamaModel: model})
	if err != nil {
		t.Fatalf("open ollama embedder: %v", err)
	}
	texts := []string{"garden hose", "artificial intelligence software", "garden hose"}
	vecs, err := e.Embed(ctx, texts)
	if err != nil {
		t.Fatalf("embed: %v", err)
	}
	if len(vecs) != 3 || len(vecs[0]) != e.Dimension() || e.Dimension() == 0 {
		t.Fatalf("got %d vectors of %d dimensions, dimension %d", len(vecs), len(vecs[0]), e.Dimension())
	}
	if c := testkit.Cosine(vecs[0], vecs[2]); c < 0.9999 {
		t.Errorf("the same text embedded twice has cosine %v", c)
	}
	t.Logf("model %s, dimension %d", e.Model(), e.Dimension())
}
