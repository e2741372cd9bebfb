package use

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatmulMatchesNaive checks the blocked, packed, parallel product on
// every micro-kernel the CPU runs (Go, AVX2, AVX-512) against a plain
// triple loop, on shapes that cross the kc and mc block edges and leave
// ragged row tiles, both accumulating into C and with each fused step
// (start from another matrix or from zero, add a bias, ReLU).
func TestMatmulMatchesNaive(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ rows, k, m, workers int }{
		{1, 8, 32, 1},
		{5, 256, 32, 2},
		{7, 257, 96, 2},
		{73, 300, 64, 3},
		{13, 3, 160, 2},
		{150, 1536, 512, 2},
	} {
		lda, ldc := tc.k+3, tc.m+5
		rows := roundRows(tc.rows)
		random := func(n int, lo, hi float32) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = lo + rng.Float32()*(hi-lo)
			}
			return v
		}
		a := random(rows*lda, -1, 1)
		bm := random(tc.k*tc.m, -1, 1)
		c := random(rows*ldc, 0, 1)
		from := random(rows*ldc, -1, 1)
		bias := random(tc.m, -1, 1)
		p := pack(bm, tc.k, tc.m)
		for _, mode := range []string{"accumulate", "from+bias+relu", "bias", "zero+relu"} {
			// start returns C's value before the product for row i, column j.
			start := map[string]func(i, j int) float64{
				"accumulate":     func(i, j int) float64 { return float64(c[i*ldc+j]) },
				"from+bias+relu": func(i, j int) float64 { return float64(from[i*ldc+j] + bias[j]) },
				"bias":           func(_, j int) float64 { return float64(bias[j]) },
				"zero+relu":      func(_, _ int) float64 { return 0 },
			}[mode]
			f := map[string]fused{
				"from+bias+relu": {from: from, bias: bias, relu: true},
				"bias":           {bias: bias},
				"zero+relu":      {relu: true},
			}[mode]
			want := make([]float64, tc.rows*tc.m)
			for i := 0; i < tc.rows; i++ {
				for j := 0; j < tc.m; j++ {
					s := start(i, j)
					for p := 0; p < tc.k; p++ {
						s += float64(a[i*lda+p]) * float64(bm[p*tc.m+j])
					}
					if f.relu {
						s = max(s, 0)
					}
					want[i*tc.m+j] = s
				}
			}
			for _, kern := range kernels() {
				got := append([]float32(nil), c...)
				if mode == "accumulate" {
					f.from = got
				}
				matmulWith(kern, got, ldc, a, lda, tc.rows, &p, f, tc.workers)
				for i := 0; i < tc.rows; i++ {
					for j := 0; j < tc.m; j++ {
						g, w := float64(got[i*ldc+j]), want[i*tc.m+j]
						if math.Abs(g-w) > 1e-4*math.Sqrt(float64(tc.k))*(1+math.Abs(w)) {
							t.Fatalf("rows=%d k=%d m=%d %s: c[%d][%d] = %v, want %v (kernel %s)", tc.rows, tc.k, tc.m, mode, i, j, g, w, kern)
						}
					}
				}
			}
		}
	}
}

// BenchmarkMatmul measures the best kernel on the model's largest product
// (tokens x 512 times 512 x 1536) and reports GFLOP/s; scripts/bench-embed.sh
// takes the 2-core figure as the machine's peak. The kernel=... cases
// compare the micro-kernels on one core.
func BenchmarkMatmul(b *testing.B) {
	const rows, k, m = 1200, 512, 1536
	a := make([]float32, rows*k)
	c := make([]float32, rows*m)
	bm := make([]float32, k*m)
	for i := range a {
		a[i] = 0.5
	}
	for i := range bm {
		bm[i] = 0.25
	}
	p := pack(bm, k, m)
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "1core", 2: "2cores"}[workers], func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				matmul(c, m, a, k, rows, &p, workers)
			}
			reportRates(b, float64(2*rows*k*m)*float64(b.N), cpu0)
		})
	}
	for _, kern := range kernels() {
		b.Run("kernel="+kern.String(), func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				matmulWith(kern, c, m, a, k, rows, &p, fused{from: c}, 1)
			}
			reportRates(b, float64(2*rows*k*m)*float64(b.N), cpu0)
		})
	}
}

// TestRelu checks the vector ReLU against the Go loop, signed zeros and
// NaN included.
func TestRelu(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 16, 48, 64, 70} {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		v[0] = float32(math.Copysign(0, -1))
		if n > 2 {
			v[2] = float32(math.NaN())
		}
		got, want := append([]float32(nil), v...), append([]float32(nil), v...)
		relu(got)
		reluGo(want)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("relu n=%d: [%d] = %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

func TestDotAxpy(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 16, 64, 128, 130} {
		a := make([]float32, n)
		b := make([]float32, n)
		for i := range a {
			a[i], b[i] = rng.Float32()-0.5, rng.Float32()-0.5
		}
		if got, want := dot(a, b), dotGo(a, b); math.Abs(float64(got-want)) > 1e-5 {
			t.Errorf("dot n=%d: %v, want %v", n, got, want)
		}
		got := append([]float32(nil), a...)
		want := append([]float32(nil), a...)
		axpy(got, b, 0.75)
		axpyGo(want, b, 0.75)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("axpy n=%d: [%d] = %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkMatmulShapes runs the products of one layer at batch 16 of seed
// descriptions (about 480 token rows), so the kernel's speed on the
// model's own shapes can be set beside its peak on the large product.
func BenchmarkMatmulShapes(b *testing.B) {
	const rows = 480
	for _, s := range []struct {
		name string
		k, m int
		f    fused
	}{
		{"qkv0_256x768", embedDim, 3 * embedDim, fused{bias: make([]float32, 3*embedDim)}},
		{"out0_256x512", embedDim, hiddenDim, fused{}},
		{"qkv1_512x1536", hiddenDim, 3 * hiddenDim, fused{bias: make([]float32, 3*hiddenDim)}},
		{"ffn1_512x1536", hiddenDim, ffnDim, fused{bias: make([]float32, ffnDim), relu: true}},
		{"ffn2_1536x512", ffnDim, hiddenDim, fused{bias: make([]float32, hiddenDim)}},
	} {
		b.Run(s.name, func(b *testing.B) {
			a := make([]float32, roundRows(rows)*s.k)
			c := make([]float32, roundRows(rows)*s.m)
			bm := make([]float32, s.k*s.m)
			for i := range a {
				a[i] = 0.5
			}
			for i := range bm {
				bm[i] = 0.25
			}
			p := pack(bm, s.k, s.m)
			cpu0 := cpuTime()
			for b.Loop() {
				matmulInto(c, s.m, a, s.k, rows, &p, s.f, 2)
			}
			reportRates(b, float64(2*rows*s.k*s.m)*float64(b.N), cpu0)
		})
	}
}
