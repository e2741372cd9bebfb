#!/usr/bin/env bash
# Measures the use embedder against its JavaScript reference
# (@energetic-ai/embeddings on TF.js WebAssembly SIMD) on the same
# catalog-like texts, for batches of 1, 16 and 64, and prints texts/s for
# both, their ratio, and the Go side's share of the machine's float32 peak.
#
#   scripts/bench-embed.sh            # BENCH_SECONDS=5 per case by default
#
# The peak is measured in the same run: BenchmarkMatmul/2cores (the matrix
# kernel on the model's largest product, tokens x 512 x 1536) runs just
# before each batch size, so load from other work weighs on both. "of peak"
# divides the embedder's GFLOP/s by it; "of 207" by the documented OpenBLAS
# figure for this machine (PEAK_GFLOPS); "cpu-time" divides GFLOP per
# CPU-second of each, which other processes on the cores hardly distort,
# and "cores" is how many cores the embedder kept busy (2 at best).
# Then a CPU profile of batch 16 says where the time goes.
#
# Texts: "Name. Description" from the seed catalog CSV (REFARCH_SEED_CSV,
# default ../shared/data/seed-products.csv) when present, otherwise the
# product descriptions of the fixture.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${BENCH_SECONDS:-5}"
peak="${PEAK_GFLOPS:-207}" # OpenBLAS float32 GEMM on this 2-core machine (docs/architecture.md)
export REFARCH_MODEL_DIR="${REFARCH_MODEL_DIR:-$HOME/.cache/refarch/models/use-lite-0.2.0}"
scripts/model.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
csv="${REFARCH_SEED_CSV:-$root/../shared/data/seed-products.csv}"
if [[ -f "$csv" ]]; then
	tools/embedref/run.sh texts "$csv" 512 >"$tmp/texts.json"
	echo "texts: first 512 products of $csv" >&2
else
	node -e 'const t=JSON.parse(require("fs").readFileSync(process.argv[1],"utf-8")); process.stdout.write(JSON.stringify(t.slice(0,100)))' \
		embedding/use/testdata/fixture_texts.json >"$tmp/texts.json"
	echo "texts: the fixture's 100 product descriptions ($csv not found)" >&2
fi

go test -c -o "$tmp/use.test" ./embedding/use/
metric() { awk -v u="$1" '{for(i=1;i<NF;i++) if($(i+1)==u) print $i}'; }
# Go and JavaScript take turns per batch size, so that load from anything
# else on the machine weighs on both sides of each ratio alike.
printf '\n%-6s %10s %10s %7s %8s %8s %8s %7s %9s %6s\n' batch "go text/s" "js text/s" ratio "go GF/s" "peak GF/s" "of peak" "of 207" "cpu-time" cores >"$tmp/table.txt"
for b in 1 16 64; do
	echo "batch $b: matrix kernel peak, 2 cores (${seconds}s)..." >&2
	(cd embedding/use && "$tmp/use.test" -test.run '^$' -test.bench '^BenchmarkMatmul/2cores$' -test.benchtime "${seconds}s") >"$tmp/peak.txt"
	echo "batch $b: Go (${seconds}s)..." >&2
	(cd embedding/use && REFARCH_BENCH_TEXTS="$tmp/texts.json" "$tmp/use.test" -test.run '^$' \
		-test.bench "^BenchmarkEmbed/batch=$b\$" -test.benchtime "${seconds}s" -test.v) >"$tmp/go.txt"
	echo "batch $b: JavaScript reference (${seconds}s)..." >&2
	tools/embedref/run.sh bench "$tmp/texts.json" "$seconds" "$b" >"$tmp/js.txt"
	line=$(grep "batch=$b-" "$tmp/go.txt")
	pline=$(grep "2cores" "$tmp/peak.txt")
	echo "  peak: $pline" >&2
	echo "  go:   $line" >&2
	echo "  js:   $(cat "$tmp/js.txt")" >&2
	js_tps=$(sed 's/.*"texts_per_sec":\([0-9.e+-]*\).*/\1/' "$tmp/js.txt")
	awk -v b="$b" -v g="$(metric texts/s <<<"$line")" -v j="$js_tps" -v f="$(metric GFLOP/s <<<"$line")" \
		-v fc="$(metric GFLOP/cpu-s <<<"$line")" -v c="$(metric cores <<<"$line")" \
		-v p="$(metric GFLOP/s <<<"$pline")" -v pc="$(metric GFLOP/cpu-s <<<"$pline")" -v d="$peak" \
		'BEGIN { printf "%-6s %10.1f %10.1f %6.1fx %8.1f %9.1f %7.0f%% %6.0f%% %8.0f%% %6.2f\n", b, g, j, g/j, f, p, 100*f/p, 100*f/d, 100*fc/pc, c }' >>"$tmp/table.txt"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores, $(grep -o 'kernel [a-z0-9-]*' "$tmp/go.txt" | head -1)" >>"$tmp/table.txt"

# Where batch 16's CPU time goes, by part of the forward pass (samples of
# model loading left out).
# A fixed number of batches, so the sample count does not shrink under load.
echo "batch 16: CPU profile (100 batches)..." >&2
(cd embedding/use && REFARCH_BENCH_TEXTS="$tmp/texts.json" "$tmp/use.test" -test.run '^$' \
	-test.bench '^BenchmarkEmbed/batch=16$' -test.benchtime 100x -test.cpuprofile "$tmp/cpu.out") >/dev/null
go tool pprof -top -nodecount=100000 -ignore 'use\.Load' "$tmp/use.test" "$tmp/cpu.out" 2>/dev/null |
	awk -f scripts/embed-profile.awk >>"$tmp/table.txt"
cat "$tmp/table.txt"
