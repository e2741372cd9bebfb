package use

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Register-blocking of the micro-kernel: it updates an mr x nr tile of C,
// and nr columns of B are stored contiguously per row of a panel. 12 x 32
// is the AVX-512 kernel's tile (24 of the 32 ZMM registers); the AVX2
// kernel covers it as four 6 x 16 tiles.
const (
	mr = 12
	nr = 32
)

// Cache-blocking: a kc x nr slice of a B panel (32 KiB) stays in L1 (48
// KiB) while the kernel sweeps mc rows of A, whose mc x kc block (96 KiB)
// stays in L2.
const (
	kc = 256
	mc = 96
)

// packed is a k x m weight matrix stored as m/nr panels of k rows by nr
// columns, so that the micro-kernel reads B sequentially.
type packed struct {
	k, m int
	data []float32
}

// pack converts a row-major k x m matrix; m must be a multiple of nr.
func pack(b []float32, k, m int) packed {
	if m%nr != 0 {
		panic(fmt.Sprintf("pack: %d columns is not a multiple of %d", m, nr))
	}
	p := packed{k: k, m: m, data: make([]float32, k*m)}
	for panel := 0; panel < m/nr; panel++ {
		dst := p.data[panel*k*nr:]
		for r := 0; r < k; r++ {
			copy(dst[r*nr:(r+1)*nr], b[r*m+panel*nr:r*m+panel*nr+nr])
		}
	}
	return p
}

// roundRows rounds a row count up to whole micro-kernel tiles. Activation
// buffers hold that many rows so the kernel never needs a ragged edge; the
// extra rows are scratch whose results are ignored.
func roundRows(n int) int { return (n + mr - 1) / mr * mr }

// A task covers groupPanels panels (2 x 32 columns) of one block of mc
// rows: small enough that the cores finish a product close together (a
// batch of 16 texts is about 500 rows, so even a 512-wide product makes 40
// tasks) and a core slowed by other work hands its share to the other,
// large enough that each A block in L2 serves several panels.
const groupPanels = 2

// matmul adds a x B to c for the first rows rows (rounded up to mr; both a
// and c must hold that many rows). lda and ldc are row strides in floats.
// Groups of panels are shared out among up to workers goroutines. It runs
// the best micro-kernel the CPU has.
func matmul(c []float32, ldc int, a []float32, lda int, rows int, b *packed, workers int) {
	matmulWith(bestKernel, c, ldc, a, lda, rows, b, fused{from: c}, workers)
}

// fused says what matmulInto does around the product. These elementwise
// steps run column group by column group inside the task that computes the
// group, so they are shared by the cores and touch C while it is in cache,
// instead of each taking a serial pass over the whole of C.
type fused struct {
	from []float32 // C starts as from (row stride ldc; C itself to accumulate), or as zero when nil,
	bias []float32 // plus bias on every row when not nil;
	relu bool      // after the product, C = max(C, 0)
}

// matmulInto sets c to f.from + f.bias + a x B (then ReLU if f.relu) for
// the first rows rows, rounded up to mr as in matmul.
func matmulInto(c []float32, ldc int, a []float32, lda int, rows int, b *packed, f fused, workers int) {
	matmulWith(bestKernel, c, ldc, a, lda, rows, b, f, workers)
}

// matmulWith is matmulInto on the given micro-kernel (tests and
// benchmarks compare them).
func matmulWith(kern kernelID, c []float32, ldc int, a []float32, lda int, rows int, b *packed, f fused, workers int) {
	if rows == 0 {
		return
	}
	rows = roundRows(rows)
	_ = a[(rows-1)*lda+b.k-1]
	_ = c[(rows-1)*ldc+b.m-1]
	if f.from != nil {
		_ = f.from[(rows-1)*ldc+b.m-1]
	}
	if f.bias != nil {
		_ = f.bias[b.m-1]
	}
	panels := b.m / nr
	groups := (panels + groupPanels - 1) / groupPanels
	blocks := (rows + mc - 1) / mc
	parallel(groups*blocks, workers, func(job int) {
		g, i0 := job%groups, job/groups*mc
		matmulPanels(kern, c, ldc, a, lda, i0, min(rows, i0+mc), b, f, g*groupPanels, min(panels, (g+1)*groupPanels))
	})
}

// parallel calls do for every job in [0, jobs) on up to workers
// goroutines, the caller's among them. Jobs are handed out as goroutines
// become free, so a core slowed by other load does less of the work.
func parallel(jobs, workers int, do func(job int)) {
	workers = min(workers, jobs)
	if workers <= 1 {
		for j := range jobs {
			do(j)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			j := int(next.Add(1) - 1)
			if j >= jobs {
				return
			}
			do(j)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// matmulPanels runs the blocked loops over rows [i0, i1) (at most mc) and
// panels [lo, hi) of b. The block is finished across all of k at once, so
// its C tiles (mc x 64 floats) stay in L1/L2 from f's start values through
// the k blocks to the ReLU. When C starts from the bias alone (the usual
// case) the kernel loads the bias itself on the first k block, and it
// applies the ReLU on the last, so neither costs a pass over C.
func matmulPanels(kern kernelID, c []float32, ldc int, a []float32, lda int, i0, i1 int, b *packed, f fused, lo, hi int) {
	j0, j1 := lo*nr, hi*nr
	accumulate := f.from != nil && &f.from[0] == &c[0]
	biasOnly := f.from == nil && f.bias != nil
	if !biasOnly && (!accumulate || f.bias != nil) {
		for i := i0; i < i1; i++ {
			row := c[i*ldc+j0 : i*ldc+j1]
			switch {
			case f.from == nil:
				clear(row)
			case f.bias == nil:
				copy(row, f.from[i*ldc+j0:i*ldc+j1])
			default:
				from, bias := f.from[i*ldc+j0:i*ldc+j1], f.bias[j0:j1]
				for j := range row {
					row[j] = from[j] + bias[j]
				}
			}
		}
	}
	for k0 := 0; k0 < b.k; k0 += kc {
		kn := min(kc, b.k-k0)
		last := f.relu && k0+kn == b.k
		for p := lo; p < hi; p++ {
			bp := b.data[(p*b.k+k0)*nr:]
			var bias []float32
			if biasOnly && k0 == 0 {
				bias = f.bias[p*nr : (p+1)*nr]
			}
			for i := i0; i < i1; i += mr {
				kernel12x32(kern, kn, a[i*lda+k0:], lda, bp, c[i*ldc+p*nr:], ldc, bias, last)
			}
		}
	}
}

// fillTile sets each of the 12 rows of a C tile to bias[0:32].
func fillTile(c []float32, ldc int, bias []float32) {
	for r := 0; r < mr; r++ {
		copy(c[r*ldc:r*ldc+nr], bias[:nr])
	}
}

// reluTile applies ReLU to a 12 x 32 C tile.
func reluTile(c []float32, ldc int) {
	for r := 0; r < mr; r++ {
		relu(c[r*ldc : r*ldc+nr])
	}
}

// kernelID names a micro-kernel implementation.
type kernelID int

const (
	kernelGo     kernelID = iota // portable Go
	kernelAVX2                   // four 6 x 16 AVX2/FMA tiles (kernel_amd64.s)
	kernelAVX512                 // one 12 x 32 AVX-512 tile (kernel_amd64.s)
)

func (k kernelID) String() string {
	return [...]string{"go", "avx2-fma", "avx512"}[k]
}

// kernel12x32Go is the portable micro-kernel: c[0:12][0:32] += a[0:12][0:k]
// x b[0:k][0:32], with b packed nr wide.
func kernel12x32Go(k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	var acc [mr][nr]float32
	for r := 0; r < mr; r++ {
		copy(acc[r][:], c[r*ldc:r*ldc+nr])
	}
	for p := 0; p < k; p++ {
		bp := b[p*nr : p*nr+nr]
		for r := 0; r < mr; r++ {
			av := a[r*lda+p]
			row := &acc[r]
			for j := range row {
				row[j] += av * bp[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		copy(c[r*ldc:r*ldc+nr], acc[r][:])
	}
}
