package embedding

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/refarch/refarch/internal/backoff"
)

// DefaultOllamaHost is where a local Ollama server listens by default.
const DefaultOllamaHost = "http://127.0.0.1:11434"

// OllamaConfig tunes the Ollama embedder; zero fields take the defaults.
type OllamaConfig struct {
	Host      string        // base URL; DefaultOllamaHost when empty
	Model     string        // required, e.g. "nomic-embed-text"
	Timeout   time.Duration // per request; 60s when zero
	Attempts  int           // tries per request for retryable failures; 4 when zero
	Backoff   time.Duration // first retry delay, doubled each time up to 32x; 250ms when zero
	BatchSize int           // texts per request; 32 when zero
}

// Ollama embeds texts with a model served by Ollama's /api/embed. The
// dimension is learned from the server's first answer, at construction, so
// a missing model or an unreachable server is reported at start-up.
type Ollama struct {
	cfg    OllamaConfig
	client *api.Client
	dim    int
}

func openOllama(ctx context.Context, o Options) (Embedder, error) {
	return NewOllama(ctx, OllamaConfig{Host: o.OllamaHost, Model: o.OllamaModel})
}

// NewOllama connects to the server and asks it for one embedding to learn
// the model's dimension.
func NewOllama(ctx context.Context, cfg OllamaConfig) (*Ollama, error) {
	if cfg.Model == "" {
		return nil, errors.New("ollama embedder needs a model name (REFARCH_OLLAMA_MODEL)")
	}
	if cfg.Host == "" {
		cfg.Host = DefaultOllamaHost
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 32
	}
	base, err := url.Parse(cfg.Host)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("parse ollama host %q: want a URL such as %s", cfg.Host, DefaultOllamaHost)
	}
	o := &Ollama{cfg: cfg, client: api.NewClient(base, &http.Client{})}
	vecs, err := o.request(ctx, []string{"dimension probe"})
	if err != nil {
		return nil, err
	}
	o.dim = len(vecs[0])
	if o.dim == 0 {
		return nil, fmt.Errorf("ollama model %q at %s returned an empty embedding", cfg.Model, cfg.Host)
	}
	return o, nil
}

// Model names the server-side model and its dimension, so that two models
// (or one model re-pulled at another size) never share an index.
func (o *Ollama) Model() string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, o.cfg.Model)
	return fmt.Sprintf("ollama-%s-%d", clean, o.dim)
}

// Dimension is the length of the model's vectors.
func (o *Ollama) Dimension() int { return o.dim }

// MaxTokens is zero: the server truncates each input to the model's context.
func (o *Ollama) MaxTokens() int { return 0 }

// Embed sends the texts in batches and returns unit-length vectors.
func (o *Ollama) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for lo := 0; lo < len(texts); lo += o.cfg.BatchSize {
		hi := min(len(texts), lo+o.cfg.BatchSize)
		vecs, err := o.request(ctx, texts[lo:hi])
		if err != nil {
			return nil, err
		}
		for i, v := range vecs {
			if len(v) != o.dim {
				return nil, fmt.Errorf("ollama model %q returned %d dimensions for text %d, want %d", o.cfg.Model, len(v), lo+i, o.dim)
			}
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// request embeds one batch, retrying network failures, rate limits (429)
// and server errors with jittered exponential backoff.
func (o *Ollama) request(ctx context.Context, texts []string) ([][]float32, error) {
	var last error
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
		resp, err := o.client.Embed(rctx, &api.EmbedRequest{Model: o.cfg.Model, Input: texts})
		cancel()
		if err == nil {
			if len(resp.Embeddings) != len(texts) {
				return nil, fmt.Errorf("ollama model %q returned %d embeddings for %d texts", o.cfg.Model, len(resp.Embeddings), len(texts))
			}
			for i, v := range resp.Embeddings {
				if !normalize(v) {
					return nil, fmt.Errorf("ollama model %q returned a zero or non-finite vector for text %d", o.cfg.Model, i)
				}
			}
			return resp.Embeddings, nil
		}
		last = o.explain(err)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embed %d texts with ollama: %w", len(texts), errors.Join(ctx.Err(), last))
		}
		if !retryable(err) {
			return nil, fmt.Errorf("embed %d texts with ollama (attempt %d of %d): %w", len(texts), attempt, o.cfg.Attempts, last)
		}
		if attempt >= o.cfg.Attempts {
			return nil, Transient(fmt.Errorf("embed %d texts with ollama (attempt %d of %d): %w", len(texts), attempt, o.cfg.Attempts, last))
		}
		if !backoff.Sleep(ctx, backoff.Delay(attempt-1, o.cfg.Backoff, 32*o.cfg.Backoff)) {
			return nil, fmt.Errorf("embed %d texts with ollama: %w", len(texts), errors.Join(ctx.Err(), last))
		}
	}
}

// explain turns the client's errors into messages that say what to do.
func (o *Ollama) explain(err error) error {
	var se api.StatusError
	if errors.As(err, &se) {
		switch {
		case se.StatusCode == http.StatusNotFound:
			return fmt.Errorf("model %q not found on ollama at %s (run `ollama pull %s`): %w", o.cfg.Model, o.cfg.Host, o.cfg.Model, err)
		case se.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("ollama at %s is rate limiting: %w", o.cfg.Host, err)
		}
		return fmt.Errorf("ollama at %s answered %d: %w", o.cfg.Host, se.StatusCode, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("ollama at %s unreachable or too slow (is `ollama serve` running?): %w", o.cfg.Host, err)
	}
	return fmt.Errorf("ollama at %s: %w", o.cfg.Host, err)
}

// retryable says whether a failed request may succeed if sent again.
func retryable(err error) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.StatusCode == http.StatusTooManyRequests || se.StatusCode >= 500
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return false
	}
	// Transport failures (refused connection, reset, timeout) and
	// undecodable bodies from a server that is restarting.
	return true
}

// normalize scales v to unit length in place; it reports false for a zero
// or non-finite vector, which cannot be normalized.
func normalize(v []float32) bool {
	var ss float64
	for _, f := range v {
		ss += float64(f) * float64(f)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return false
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return true
}
