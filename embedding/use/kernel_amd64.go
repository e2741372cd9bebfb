//go:build amd64 && !purego

package use

import "golang.org/x/sys/cpu"

// useAVX2 reports whether the CPU runs the assembly kernel.
func useAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// kernel6x16AVX2 is written in assembly (kernel_amd64.s); the slices'
// bounds are checked by kernel6x16 before the call.
//
//go:noescape
func kernel6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int)

// kernel6x16 dispatches to the AVX2/FMA kernel when the CPU has it.
func kernel6x16(k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	if !useAVX2() {
		kernel6x16Go(k, a, lda, b, c, ldc)
		return
	}
	_ = a[(mr-1)*lda+k-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel6x16AVX2(k, &a[0], lda, &b[0], &c[0], ldc)
}

// kernelName says which micro-kernel runs, for benchmarks and logs.
func kernelName() string {
	if useAVX2() {
		return "avx2-fma"
	}
	return "go"
}

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func axpyAVX2(dst, src *float32, n int, a float32)

// dot returns a . b (len(b) >= len(a)).
func dot(a, b []float32) float32 {
	if useAVX2() && len(a) > 0 && len(a)%16 == 0 {
		_ = b[len(a)-1]
		return dotAVX2(&a[0], &b[0], len(a))
	}
	return dotGo(a, b)
}

// axpy adds a*src to dst (len(src) >= len(dst)).
func axpy(dst, src []float32, a float32) {
	if useAVX2() && len(dst) > 0 && len(dst)%16 == 0 {
		_ = src[len(dst)-1]
		axpyAVX2(&dst[0], &src[0], len(dst), a)
		return
	}
	axpyGo(dst, src, a)
}
