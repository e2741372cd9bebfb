#!/usr/bin/env bash
# Measures the use embedder against its JavaScript reference
# (@energetic-ai/embeddings on TF.js WebAssembly SIMD) on the same
# catalog-like texts, for batches of 1, 16 and 64, and prints texts/s for
# both, their ratio, and the Go side's share of the machine's float32 peak.
#
#   scripts/bench-embed.sh            # BENCH_SECONDS=5 per case by default
#
# Texts: "Name. Description" from the seed catalog CSV (REFARCH_SEED_CSV,
# default ../shared/data/seed-products.csv) when present, otherwise the
# product descriptions of the fixture.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${BENCH_SECONDS:-5}"
peak="${PEAK_GFLOPS:-207}" # float32 FMA peak of this 2-core machine
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
# Go and JavaScript take turns per batch size, so that load from anything
# else on the machine weighs on both sides of each ratio alike.
printf '\n%-6s %12s %12s %8s %10s %9s\n' batch "go texts/s" "js texts/s" ratio "go GFLOP/s" "of peak" >"$tmp/table.txt"
for b in 1 16 64; do
	echo "batch $b: Go (${seconds}s)..." >&2
	(cd embedding/use && REFARCH_BENCH_TEXTS="$tmp/texts.json" "$tmp/use.test" -test.run '^$' \
		-test.bench "^BenchmarkEmbed/batch=$b\$" -test.benchtime "${seconds}s") >"$tmp/go.txt"
	echo "batch $b: JavaScript reference (${seconds}s)..." >&2
	tools/embedref/run.sh bench "$tmp/texts.json" "$seconds" "$b" >"$tmp/js.txt"
	line=$(grep "batch=$b-" "$tmp/go.txt")
	echo "  go: $line" >&2
	echo "  js: $(cat "$tmp/js.txt")" >&2
	go_tps=$(awk '{for(i=1;i<NF;i++) if($(i+1)=="texts/s") print $i}' <<<"$line")
	go_gf=$(awk '{for(i=1;i<NF;i++) if($(i+1)=="GFLOP/s") print $i}' <<<"$line")
	js_tps=$(sed 's/.*"texts_per_sec":\([0-9.e+-]*\).*/\1/' "$tmp/js.txt")
	awk -v b="$b" -v g="$go_tps" -v j="$js_tps" -v f="$go_gf" -v p="$peak" \
		'BEGIN { printf "%-6s %12.1f %12.1f %7.1fx %10.1f %8.0f%%\n", b, g, j, g/j, f, 100*f/p }' >>"$tmp/table.txt"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >>"$tmp/table.txt"
cat "$tmp/table.txt"
