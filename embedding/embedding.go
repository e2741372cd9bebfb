// Package embedding turns texts into vectors. Backends: "use" (Universal
// Sentence Encoder Lite in pure Go, the default), "ollama" (a model server)
// and "hash" (a fast deterministic test embedder with no semantics).
package embedding

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/refarch/refarch/embedding/use"
)

// Embedder is implemented by every backend.
type Embedder interface {
	// Embed returns one unit-length vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Model identifies model and version; it is stored with every vector
	// and names the index, so two models' vectors never mix.
	Model() string
	// Dimension is the length of every vector.
	Dimension() int
	// MaxTokens is the longest input, in the model's tokens, that it reads;
	// longer texts are truncated, alike when indexing and when querying.
	// Zero means the backend sets no limit of its own (hash) or leaves it to
	// the model server (ollama truncates to the model's context).
	MaxTokens() int
}

// ErrTransient marks embedding errors worth retrying later: timeouts, rate
// limits (429), server errors (5xx) and refused connections. They say
// nothing about the texts, so emu never counts them against a product.
var ErrTransient = errors.New("transient embedding error")

// Transient marks err as one of ErrTransient without changing its text.
func Transient(err error) error { return transientError{err} }

type transientError struct{ err error }

func (e transientError) Error() string        { return e.err.Error() }
func (e transientError) Unwrap() error        { return e.err }
func (e transientError) Is(target error) bool { return target == ErrTransient }

// Info is what names an embedder's index: its model id and dimension.
type Info struct {
	Model     string
	Dimension int
}

// InfoOf describes e.
func InfoOf(e Embedder) Info { return Info{Model: e.Model(), Dimension: e.Dimension()} }

// Describe returns the model id and dimension of the embedder o names,
// without loading a model where the backend allows it: pelican and the
// operator commands need only what names the index, not the weights. Ollama
// is asked, since its id carries the dimension the server reports.
func Describe(ctx context.Context, o Options) (Info, error) {
	switch o.Name {
	case "use":
		return Info{Model: use.ModelID, Dimension: use.Dimension}, nil
	case "hash":
		return InfoOf(NewHash(o.HashDim)), nil
	}
	e, err := Open(ctx, o)
	if err != nil {
		return Info{}, err
	}
	return InfoOf(e), nil
}

// Options configures whichever backend is chosen by Name.
type Options struct {
	Name        string // "use", "ollama" or "hash"
	ModelDir    string // use: folder holding model.json, vocab.json and the weight shards
	OllamaHost  string // ollama: base URL
	OllamaModel string // ollama: model name
	HashDim     int    // hash: dimension
}

// opener builds one backend.
type opener func(ctx context.Context, o Options) (Embedder, error)

// registry maps REFARCH_EMBEDDER names to backends.
var registry = map[string]opener{
	"hash":   func(_ context.Context, o Options) (Embedder, error) { return NewHash(o.HashDim), nil },
	"use":    openUse,
	"ollama": openOllama,
}

// Names lists the backends Open accepts.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open builds the backend named in o.
func Open(ctx context.Context, o Options) (Embedder, error) {
	open, ok := registry[o.Name]
	if !ok {
		return nil, fmt.Errorf("unknown embedder %q (want one of %s)", o.Name, strings.Join(Names(), ", "))
	}
	e, err := open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("open %s embedder: %w", o.Name, err)
	}
	return e, nil
}
