//go:build !amd64 || purego

package use

// bestKernel is the portable micro-kernel on machines without the assembly ones.
const bestKernel = kernelGo

// kernels lists the micro-kernels this CPU can run, for tests.
func kernels() []kernelID { return []kernelID{kernelGo} }

// kernel12x32 adds a[0:12][0:k] x b[0:k][0:32] to c[0:12][0:32], starting
// from bias instead of c when there is one, ending with ReLU if relu.
func kernel12x32(_ kernelID, k int, a []float32, lda int, b []float32, c []float32, ldc int, bias []float32, relu bool) {
	if bias != nil {
		fillTile(c, ldc, bias)
	}
	kernel12x32Go(k, a, lda, b, c, ldc)
	if relu {
		reluTile(c, ldc)
	}
}

// kernelName says which micro-kernel runs, for benchmarks and logs.
func kernelName() string { return "go" }

// relu sets v to max(0, v).
func relu(v []float32) { reluGo(v) }

// dot returns a . b (len(b) >= len(a)).
func dot(a, b []float32) float32 { return dotGo(a, b) }

// axpy adds a*src to dst (len(src) >= len(dst)).
func axpy(dst, src []float32, a float32) { axpyGo(dst, src, a) }
