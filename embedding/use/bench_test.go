package use

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

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

// BenchmarkEmbed reports texts/s and GFLOP/s for batches of 1, 16 and 64.
func BenchmarkEmbed(b *testing.B) {
	m := testModel(b)
	texts := benchTexts(b)
	ctx := context.Background()
	for _, size := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			next := 0
			var n int
			var fl float64
			for b.Loop() {
				batch := make([]string, size)
				for i := range batch {
					batch[i] = texts[next%len(texts)]
					next++
				}
				// Tokenizing is timed, as the reference's time includes it.
				seqs := make([][]int, size)
				for i, t := range batch {
					seqs[i] = m.Tokenize(t)
				}
				fl += flops(seqs)
				if _, err := m.EmbedTokens(ctx, seqs); err != nil {
					b.Fatal(err)
				}
				n += size
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(n)/s, "texts/s")
			b.ReportMetric(fl/s/1e9, "GFLOP/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
