//go:build !amd64 || purego

package use

// kernel6x16 is the portable micro-kernel on machines without the assembly one.
func kernel6x16(k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	kernel6x16Go(k, a, lda, b, c, ldc)
}

// kernelName says which micro-kernel runs, for benchmarks and logs.
func kernelName() string { return "go" }

// dot returns a . b (len(b) >= len(a)).
func dot(a, b []float32) float32 { return dotGo(a, b) }

// axpy adds a*src to dst (len(src) >= len(dst)).
func axpy(dst, src []float32, a float32) { axpyGo(dst, src, a) }
