package embedding

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
)

// Hash is a deterministic, NON-SEMANTIC embedder: it hashes words and
// character trigrams into a vector. It shares words, not meaning, so it is
// only for fast pipeline tests and benchmarks, never the default.
type Hash struct{ dim int }

// NewHash returns a hash embedder of the given dimension (64 if dim <= 0).
func NewHash(dim int) *Hash {
	if dim <= 0 {
		dim = 64
	}
	return &Hash{dim: dim}
}

// Model names the embedder and its dimension.
func (h *Hash) Model() string { return fmt.Sprintf("hash-v1-%d", h.dim) }

// Dimension is the vector length.
func (h *Hash) Dimension() int { return h.dim }

// MaxTokens is zero: every word counts, however long the text.
func (h *Hash) MaxTokens() int { return 0 }

// Embed hashes each text; it never fails unless ctx is done.
func (h *Hash) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = h.one(t)
	}
	return out, nil
}

func (h *Hash) one(text string) []float32 {
	v := make([]float32, h.dim)
	add := func(s string, w float32) {
		f := fnv.New64a()
		f.Write([]byte(s))
		x := f.Sum64()
		sign := float32(1)
		if x&1 == 1 {
			sign = -1
		}
		v[(x>>1)%uint64(h.dim)] += sign * w
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
	for _, w := range words {
		add("w:"+w, 1)
		r := []rune(" " + w + " ")
		for i := 0; i+3 <= len(r); i++ {
			add("g:"+string(r[i:i+3]), 0.3)
		}
	}
	if !normalize(v) {
		v[0] = 1 // no words: a fixed unit vector
	}
	return v
}
