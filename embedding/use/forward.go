package use

import (
	"context"
	"fmt"
	"math"
)

// chunkTexts bounds how many texts one forward pass holds, which bounds
// memory (about 40 KiB of activations per token) and lets a cancelled
// context stop a large batch between chunks.
const chunkTexts = 64

// EmbedTokens embeds already tokenized texts (each at most MaxTokens ids).
func (m *Model) EmbedTokens(ctx context.Context, seqs [][]int) ([][]float32, error) {
	out := make([][]float32, 0, len(seqs))
	for lo := 0; lo < len(seqs); lo += chunkTexts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embed %d texts: %w", len(seqs), err)
		}
		hi := min(len(seqs), lo+chunkTexts)
		vecs, err := m.forward(seqs[lo:hi])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// forward runs the graph on one chunk. Tokens of all texts are stacked as
// rows of one matrix, so the position-wise layers are single large matrix
// products; only attention looks at each text on its own.
func (m *Model) forward(seqs [][]int) ([][]float32, error) {
	offs := make([]int, len(seqs)+1)
	for i, s := range seqs {
		if len(s) > MaxTokens {
			return nil, fmt.Errorf("embed: text %d has %d tokens, more than %d", i, len(s), MaxTokens)
		}
		for _, id := range s {
			if id < 0 || id >= m.vocab {
				return nil, fmt.Errorf("embed: text %d has token id %d outside the vocabulary", i, id)
			}
		}
		offs[i+1] = offs[i] + len(s)
	}
	n := offs[len(seqs)]
	rows := roundRows(n)

	// Input: twice the token embedding plus the timing signal. The graph
	// adds the scattered embeddings to the scattered (embedding + signal),
	// hence the factor of two.
	ws := m.pool.Get().(*workspace)
	defer m.pool.Put(ws)
	ws.in = grow(ws.in, rows*embedDim)
	x := ws.in
	clear(x[n*embedDim:]) // padding rows: defined values for the kernels
	for i, s := range seqs {
		for pos, id := range s {
			row := x[(offs[i]+pos)*embedDim : (offs[i]+pos+1)*embedDim]
			e := m.emb[id*embedDim : (id+1)*embedDim]
			sig := m.signal[pos*embedDim : (pos+1)*embedDim]
			for j := range row {
				row[j] = e[j] + (e[j] + sig[j])
			}
		}
	}

	for li := range m.layers {
		ws.out[li] = grow(ws.out[li], rows*hiddenDim)
		m.layer(&m.layers[li], ws.out[li], x, n, offs, ws)
		x = ws.out[li]
	}

	// Mean over each text's tokens, then tanh(pooled x W + b), then L2.
	brows := roundRows(len(seqs))
	pooled := make([]float32, brows*hiddenDim)
	for i := range seqs {
		l := offs[i+1] - offs[i]
		if l == 0 {
			continue // sum of nothing divided by max(0, 1)
		}
		p := pooled[i*hiddenDim : (i+1)*hiddenDim]
		for t := offs[i]; t < offs[i+1]; t++ {
			addTo(p, x[t*hiddenDim:(t+1)*hiddenDim])
		}
		inv := 1 / float32(l)
		for j := range p {
			p[j] *= inv
		}
	}
	proj := make([]float32, brows*Dimension)
	matmulInto(proj, Dimension, pooled, hiddenDim, len(seqs), &m.tanhW, fused{bias: m.tanhBias}, m.workers)
	vecs := make([][]float32, len(seqs))
	for i := range seqs {
		v := proj[i*Dimension : (i+1)*Dimension : (i+1)*Dimension]
		var ss float64
		for j, f := range v {
			t := float32(math.Tanh(float64(f)))
			v[j] = t
			ss += float64(t) * float64(t)
		}
		inv := float32(1 / math.Sqrt(math.Max(ss, 1e-12)))
		for j := range v {
			v[j] *= inv
		}
		vecs[i] = v
	}
	return vecs, nil
}

// workspace holds a forward pass's buffers; workspaces are pooled so that
// a steady stream of batches does not churn the garbage collector.
type workspace struct {
	in, h, qkv, att, hid []float32
	out                  [2][]float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// layer runs one transformer layer on n stacked tokens of x and writes its
// output to y (n rows of hiddenDim, padded to whole tiles). Biases, the
// residual additions and the ReLU are fused into the matrix products
// (see fused), so the only passes over the activations outside them are
// the layer norms and attention, and those are shared by the cores too.
func (m *Model) layer(l *layer, y, x []float32, n int, offs []int, ws *workspace) {
	rows := roundRows(n)
	ws.h = grow(ws.h, rows*l.dIn)
	layerNorm(ws.h, x, n, l.dIn, l.lnAttnScale, l.lnAttnBias, m.workers)
	ws.qkv = grow(ws.qkv, rows*3*l.dIn)
	matmulInto(ws.qkv, 3*l.dIn, ws.h, l.dIn, n, &l.qkv, fused{bias: l.qkvBias}, m.workers)

	ws.att = grow(ws.att, rows*l.dIn)
	m.attention(ws.att, ws.qkv, l.dIn, l.scale, offs)

	// y = attention x Wo + bo + residual, where the residual is x itself or,
	// when the width changes, a dense projection of it (x R + br).
	if l.residual != nil {
		matmulInto(y, l.dOut, x, l.dIn, n, l.residual, fused{bias: l.outResBias}, m.workers)
		matmul(y, l.dOut, ws.att, l.dIn, n, &l.out, m.workers)
	} else {
		matmulInto(y, l.dOut, ws.att, l.dIn, n, &l.out, fused{from: x, bias: l.outBias}, m.workers)
	}

	// Feed-forward on the normalized y, added back to y.
	ws.h = grow(ws.h, rows*l.dOut)
	layerNorm(ws.h, y, n, l.dOut, l.lnFFNScale, l.lnFFNBias, m.workers)
	ws.hid = grow(ws.hid, rows*ffnDim)
	matmulInto(ws.hid, ffnDim, ws.h, l.dOut, n, &l.ffn1, fused{bias: l.ffn1Bias, relu: true}, m.workers)
	matmulInto(y, l.dOut, ws.hid, ffnDim, n, &l.ffn2, fused{from: y, bias: l.ffn2Bias}, m.workers)
}

// attention computes softmax(q k^T * scale) v for every text and head; qkv
// rows hold q, k and v side by side, each d wide and split into heads.
func (m *Model) attention(dst, qkv []float32, d int, scale float32, offs []int) {
	dh := d / heads
	stride := 3 * d
	texts := len(offs) - 1
	parallel(texts*heads, m.workers, func(job int) {
		var logits [MaxTokens]float32
		var qbuf [hiddenDim / heads]float32
		q := qbuf[:dh]
		t, h := job/heads, job%heads
		lo, hi := offs[t], offs[t+1]
		for i := lo; i < hi; i++ {
			qi := qkv[i*stride+h*dh : i*stride+h*dh+dh]
			for c := range q {
				q[c] = qi[c] * scale
			}
			mx := float32(math.Inf(-1))
			lg := logits[:hi-lo]
			for j := lo; j < hi; j++ {
				kj := qkv[j*stride+d+h*dh : j*stride+d+h*dh+dh]
				s := dot(q, kj)
				lg[j-lo] = s
				mx = max(mx, s)
			}
			var sum float32
			for j := range lg {
				e := float32(math.Exp(float64(lg[j] - mx)))
				lg[j] = e
				sum += e
			}
			o := dst[i*d+h*dh : i*d+h*dh+dh]
			clear(o)
			inv := 1 / sum
			for j := lo; j < hi; j++ {
				vj := qkv[j*stride+2*d+h*dh : j*stride+2*d+h*dh+dh]
				axpy(o, vj, lg[j-lo]*inv)
			}
		}
	})
}

// layerNorm normalizes each of n rows of width d to zero mean and unit
// variance (epsilon 1e-6), then scales and shifts, in the graph's order.
// Blocks of rows are shared out among workers. The padding rows up to
// roundRows(n) are zeroed, so the kernels compute on defined values.
func layerNorm(dst, src []float32, n, d int, scale, bias []float32, workers int) {
	const block = 32
	parallel((n+block-1)/block, workers, func(b int) {
		for i := b * block; i < min(n, (b+1)*block); i++ {
			layerNormRow(dst[i*d:(i+1)*d], src[i*d:(i+1)*d], scale, bias)
		}
	})
	clear(dst[n*d : roundRows(n)*d])
}

func layerNormRow(o, s, scale, bias []float32) {
	d := len(s)
	var mean float64
	for _, v := range s {
		mean += float64(v)
	}
	mu := float32(mean / float64(d))
	var variance float64
	for _, v := range s {
		c := float64(v - mu)
		variance += c * c
	}
	r := float32(1 / math.Sqrt(variance/float64(d)+lnEpsilon))
	for j, v := range s {
		o[j] = scale[j]*r*(v-mu) + bias[j]
	}
}

func reluGo(v []float32) {
	for i, f := range v {
		if f < 0 {
			v[i] = 0
		}
	}
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo(dst, src []float32, a float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += a * src[i]
	}
}
