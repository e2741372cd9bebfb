//go:build amd64 && !purego

package use

import "golang.org/x/sys/cpu"

// useAVX2 reports whether the CPU runs the AVX2/FMA assembly (the 6 x 16
// kernel, dot and axpy).
func useAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// bestKernel is the fastest micro-kernel this CPU runs. x/sys/cpu reports
// AVX-512 only when the OS also saves the ZMM registers.
var bestKernel = func() kernelID {
	switch {
	case cpu.X86.HasAVX512F:
		return kernelAVX512
	case useAVX2():
		return kernelAVX2
	}
	return kernelGo
}()

// kernels lists the micro-kernels this CPU can run, for tests.
func kernels() []kernelID {
	return []kernelID{kernelGo, kernelAVX2, kernelAVX512}[:bestKernel+1]
}

// The assembly kernels (kernel_amd64.s); the slices' bounds are checked by
// kernel12x32 before the call.
//
//go:noescape
func kernel6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int)

//go:noescape
func kernel12x32AVX512(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, relu bool)

// kernel12x32 adds a[0:12][0:k] x b[0:k][0:32] to c[0:12][0:32] with the
// given kernel; b is one packed panel. With a bias (32 floats) the tile
// starts from it on every row instead of from c; with relu it ends as
// max(0, .). The AVX-512 kernel does both in registers; for the others
// they are passes over the (cache-resident) tile.
func kernel12x32(kern kernelID, k int, a []float32, lda int, b []float32, c []float32, ldc int, bias []float32, relu bool) {
	_ = a[(mr-1)*lda+k-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if kern == kernelAVX512 {
		var bp *float32
		if bias != nil {
			_ = bias[nr-1]
			bp = &bias[0]
		}
		kernel12x32AVX512(k, &a[0], lda, &b[0], &c[0], ldc, bp, relu)
		return
	}
	if bias != nil {
		fillTile(c, ldc, bias)
	}
	switch kern {
	case kernelAVX2:
		// Rows 0-5 and 6-11, each times columns 0-15 and 16-31.
		for _, r := range [2]int{0, 6} {
			kernel6x16AVX2(k, &a[r*lda], lda, &b[0], &c[r*ldc], ldc)
			kernel6x16AVX2(k, &a[r*lda], lda, &b[16], &c[r*ldc+16], ldc)
		}
	default:
		kernel12x32Go(k, a, lda, b, c, ldc)
	}
	if relu {
		reluTile(c, ldc)
	}
}

// kernelName says which micro-kernel runs, for benchmarks and logs.
func kernelName() string { return bestKernel.String() }

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func axpyAVX2(dst, src *float32, n int, a float32)

//go:noescape
func reluAVX2(v *float32, n int)

// relu sets v to max(0, v), without a branch per element (the signs are
// random, so a branch would be mispredicted about half the time).
func relu(v []float32) {
	if useAVX2() && len(v) > 0 && len(v)%16 == 0 {
		reluAVX2(&v[0], len(v))
		return
	}
	reluGo(v)
}

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
