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
