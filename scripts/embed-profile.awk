# Sums a `go tool pprof -top` listing of the use embedder's benchmark by
# part of the forward pass (flat CPU time of each function), for
# scripts/bench-embed.sh.
function secs(v) {
	if (v ~ /ms$/) return substr(v, 1, length(v) - 2) / 1000
	if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1e6
	if (v ~ /s$/) return substr(v, 1, length(v) - 1) + 0
	return 0
}
function part(f) {
	if (f ~ /use\.kernel(12x32|6x16)(AVX512|AVX2|Go)/) return "matrix kernel (FMA inner loop)"
	if (f ~ /use\.(matmul|kernel12x32$|parallel)/) return "matrix blocking, bias/residual set-up"
	if (f ~ /memmove|memclr/) return "copies and clears (bias rows, buffers)"
	if (f ~ /use\.(\(\*Model\)\.attention|dot|axpy)|math\.(archExp|Exp|exp)/) return "attention (scores, softmax, weighted sum)"
	if (f ~ /use\.layerNorm/) return "layer norm"
	if (f ~ /use\.relu/) return "ReLU"
	if (f ~ /use\.(\(\*Tokenizer\)|\(\*Model\)\.Tokenize|normalize)|maps\.|mapaccess|unicode|utf8|strings\.|norm\./) return "tokenizer"
	if (f ~ /use\.|math\./) return "input, pooling, tanh, L2 (rest of forward)"
	if (f ~ /runtime\.asyncPreempt/) return "preemption (in Go loops)"
	if (f ~ /^runtime\.|^sync|^internal\/runtime/) return "runtime (GC, scheduler, allocation)"
	return "other"
}
$1 ~ /[0-9](ms|us|s)$/ && NF >= 6 {
	name = $6
	for (i = 7; i <= NF; i++) name = name " " $i
	t = secs($1)
	sum[part(name)] += t
	total += t
}
END {
	if (total == 0) { print "no profile samples"; exit }
	printf "\nbatch 16, CPU time by part (%.2f s sampled):\n", total
	n = 0
	for (p in sum) order[++n] = p
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (sum[order[j]] > sum[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
	for (i = 1; i <= n; i++) printf "  %5.1f%%  %s\n", 100 * sum[order[i]] / total, order[i]
}
