package use

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/refarch/refarch/internal/testkit"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used so far.
// The machine's cores are often shared with other work, which stretches
// wall-clock figures but hardly CPU time, so benchmarks report GFLOP per
// CPU-second beside GFLOP/s, and the cores kept busy (CPU time / wall time).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports GFLOP/s, GFLOP per CPU-second and cores busy for
// fl floating-point operations since cpu0 (a cpuTime reading).
func reportRates(b *testing.B, fl float64, cpu0 time.Duration) {
	wall := b.Elapsed().Seconds()
	cpu := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(fl/wall/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(fl/cpu/1e9, "GFLOP/cpu-s")
		b.ReportMetric(cpu/wall, "cores")
	}
}

// benchTexts returns catalog-like texts: the JSON array named by
// REFARCH_BENCH_TEXTS (scripts/bench-embed.sh passes the same file to the
// JavaScript reference), or the fixture's product descriptions.
func benchTexts(b *testing.B) []string {
	b.Helper()
	path := os.Getenv("REFARCH_BENCH_TEXTS")
	if path == "" {
		path = filepath.Join("testdata", "fixture_texts.json")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatalf("read bench texts: %v", err)
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		b.Fatalf("decode bench texts: %v", err)
	}
	if os.Getenv("REFARCH_BENCH_TEXTS") == "" {
		texts = texts[:100] // the fixture starts with product descriptions
	}
	return texts
}

// flops counts the floating-point operations of one forward pass: the
// position-wise products per token, attention per text, and the output
// projection per text.
func flops(seqs [][]int) float64 {
	perToken := 2.0 * (embedDim*hiddenDim + embedDim*3*embedDim + embedDim*hiddenDim + 2*hiddenDim*ffnDim +
		hiddenDim*3*hiddenDim + hiddenDim*hiddenDim + 2*hiddenDim*ffnDim)
	var f float64
	for _, s := range seqs {
		l := float64(len(s))
		f += l*perToken + 2*2*l*l*(embedDim+hiddenDim) + 2*hiddenDim*Dimension
	}
	return f
}

// BenchmarkEmbed reports texts/s, GFLOP/s and GFLOP per CPU-second for
// batches of 1, 16 and 64.
func BenchmarkEmbed(b *testing.B) {
	m := testModel(b)
	texts := benchTexts(b)
	b.Logf("kernel %s", m.Kernel())
	// The operations each text costs, counted once outside the timed loop.
	textFlops := make([]float64, len(texts))
	for i, t := range texts {
		textFlops[i] = flops([][]int{m.Tokenize(t)})
	}
	benchBatches(b, m, texts, textFlops, []int{1, 16, 64}, false)
}

// benchBatches embeds texts in batches of each size, one sub-benchmark per
// size, and reports texts/s and the rates (reportRates); perText adds the CPU
// time per text. textFlops[i] is the operations texts[i] costs. Embed
// tokenizes: the reference's time includes it too.
func benchBatches(b *testing.B, m *Model, texts []string, textFlops []float64, sizes []int, perText bool) {
	ctx := context.Background()
	for _, size := range sizes {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			next := 0
			var n int
			var fl float64
			cpu0 := cpuTime()
			for b.Loop() {
				batch := make([]string, size)
				for i := range batch {
					batch[i] = texts[next%len(texts)]
					fl += textFlops[next%len(texts)]
					next++
				}
				if _, err := m.Embed(ctx, batch); err != nil {
					b.Fatal(err)
				}
				n += size
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "texts/s")
			if perText {
				b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(n), "cpu-ms/text")
			}
			reportRates(b, fl, cpu0)
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkEmbedQueries embeds search queries as serve does: short texts
// (about 9 tokens, one 12-row tile each; BenchmarkSearchAPI's, each made
// distinct by a number), alone and in micro-batches of 2 and 8. It reports
// CPU time per query beside GFLOP per CPU-second: a lone query's forward pass
// still reads every weight (some 18 MB) for its one tile, which a batch
// shares.
func BenchmarkEmbedQueries(b *testing.B) {
	m := testModel(b)
	queries := testkit.ShopperQueries
	// Texts and their operations are made outside the timed loop; the model
	// keeps no cache, so repeating a text after 4,096 others costs the same.
	texts := make([]string, 4096)
	textFlops := make([]float64, len(texts))
	for i := range texts {
		texts[i] = fmt.Sprintf("%s %d", queries[i%len(queries)], 1_000_000+i)
		textFlops[i] = flops([][]int{m.Tokenize(texts[i])})
	}
	benchBatches(b, m, texts, textFlops, []int{1, 2, 8}, true)
}
