#!/usr/bin/env bash
# The catalog at scale, as a user runs it: seed BENCH_PRODUCTS products
# (default 1,000,000) into a fresh database on the local cluster, run
# `serve --all` with the hash embedder at 512 dimensions (so the store, not
# the model, is measured) and print:
#   - seed time; time until every vector is written (bootstrap rows/s,
#     from serve's start to the last index_state write);
#   - time to a ready search index with the cluster's defaults (`make db`),
#     with the build's progress as `status --json` shows it;
#   - edit-during-backfill latency: while the bootstrap's backlog drains,
#     a product's description is edited every BENCH_EDIT_EVERY seconds
#     (0.2); p50/p99 from the edit's commit (updated_at) to its vector
#     being recorded (index_state.indexed_at), and edits never indexed;
#   - serve --all's peak RSS (VmHWM) and its RSS while bootstrapping;
#   - /api/search latency while the index is missing or building (and
#     whether the answers said index_ready: false) and once it is ready;
#   - / and /api/products latency (p50, p99);
#   - status latency (p50, p99): the /status page and `refarch status --json`,
#     while the bootstrap runs and once idle; and reconcile's rate for a minute;
#   - /api/search p50/p99 at 8 clients with and without a category and
#     price filter, beside /healthz at 8 clients (the machine's load), and
#     recall@10 of the HNSW search against an exact scan for 200 random
#     queries over an ef_search sweep (search's BenchmarkScaleSearch).
# BENCH_SHORT=1 leaves out reconcile's minute and the page timings and
# narrows the ef_search sweep (the test that runs this at a few hundred
# rows, so that it cannot rot). BENCH_UNTIL=written stops once every vector
# is written and prints the bootstrap's figures only (seed, rows/s, edits,
# RSS, status while bootstrapping). Needs curl and python3. The database
# BENCH_DB (refarch_scale) is dropped and recreated; serve logs to
# .dev/BENCH_DB-serve.log.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
n=${BENCH_PRODUCTS:-1000000}
port=${BENCH_PORT:-18$((RANDOM % 900 + 100))}
addr=127.0.0.1:$port
db=${BENCH_DB:-refarch_scale}
bin=${BENCH_BIN:-bin/refarch}
log=.dev/$db-serve.log

# elapsed T0: seconds since T0 (an $EPOCHREALTIME), from bash's own clock:
# timing a command with a python3 start inside the span measured python
# (seconds behind a version manager's shim on a loaded machine).
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
say() { printf '%s bench-scale: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
# live_stages reads emu's refarch_emu_live_stage_seconds from /metrics on
# stdin: where the edits' time went, by stage (p50 and p99 are the upper
# bounds of the histogram's buckets).
live_stages() {
  "$py" -c '
import sys, re, collections
b = collections.defaultdict(list); n = {}; tot = {}
for l in sys.stdin:
    m = re.match(r"refarch_emu_live_stage_seconds_(bucket|sum|count)\{(.*)\} (\S+)", l)
    if not m: continue
    kind, labels, v = m.groups(); lab = dict(re.findall(r"(\w+)=\"([^\"]*)\"", labels)); st = lab["stage"]
    if kind == "bucket": b[st].append((float("inf") if lab["le"] == "+Inf" else float(lab["le"]), float(v)))
    elif kind == "sum": tot[st] = float(v)
    else: n[st] = float(v)
def q(st, f):
    for le, c in sorted(b[st]):
        if c >= f * n[st]: return le * 1000
out = []
for st in ("to_queue", "queued", "worker", "worker_read", "worker_embed", "worker_write"):
    if n.get(st): out.append(f"{st} mean {tot[st] / n[st] * 1000:.0f} ms, p50 <= {q(st, .5):.0f} ms, p99 <= {q(st, .99):.0f} ms")
print("; ".join(out) or "no samples")
'
}

# Python from the system, not a version manager's shim: a shim costs
# ~0.7 s of CPU per start, which the loop below pays several times a
# second, taken from the system it measures.
py=/usr/bin/python3; [ -x "$py" ] || py=python3
set -a; . ./.dev/env; set +a
admin=$TEST_DATABASE_URL
export DATABASE_URL=${admin/\/postgres\?/\/$db?}
export REFARCH_EMBEDDER=hash REFARCH_HASH_DIM=512
[ -n "${BENCH_BIN:-}" ] || go build -o "$bin" .
say "cluster: maintenance_work_mem $(psql -qAt "$admin" -c 'SHOW maintenance_work_mem'), max_parallel_maintenance_workers $(psql -qAt "$admin" -c 'SHOW max_parallel_maintenance_workers')"
if [ -n "${BENCH_REUSE:-}" ]; then
  # BENCH_REUSE=1 starts from the catalog a previous run seeded (nothing indexed yet).
  seed_s="(reused)"
  "$bin" migrate >/dev/null
else
  psql -qAt "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  psql -qAt "$DATABASE_URL" -c "CREATE EXTENSION vector" >/dev/null
  "$bin" migrate >/dev/null
  t=$(date +%s.%N)
  "$bin" seed --count "$n" >/dev/null
  seed_s=$("$py" -c "import time; print(f'{time.time()-$t:.1f}')")
  say "seed $n products: ${seed_s}s"
fi

"$bin" serve --all --addr "$addr" >"$log" 2>&1 &
serve_pid=$!
trap 'kill -TERM $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null || true' EXIT
start=$(date +%s.%N)
start_db=$(psql -qAt "$DATABASE_URL" -c "SELECT extract(epoch FROM clock_timestamp())")

# Edits during the backfill: one product's description every
# BENCH_EDIT_EVERY seconds, each product at most once, until every vector
# is written.
edit_ids=.dev/$db-edits.txt; : >"$edit_ids"
edit_loop() {
  local every=${BENCH_EDIT_EVERY:-0.2} id
  while :; do
    id=$(( (RANDOM * 32768 + RANDOM) % n + 1 ))
    psql -qAt "$DATABASE_URL" -c "UPDATE products SET description = description || ' (edited during the backfill)'
      WHERE id = $id AND description NOT LIKE '%(edited during the backfill)' RETURNING id" >>"$edit_ids" 2>/dev/null || true
    sleep "$every"
  done
}
edit_loop &
edit_pid=$!
rss_max=0
for _ in $(seq 1 120); do curl -sf "http://$addr/healthz" >/dev/null && break; sleep 0.5; done

queries=("something to keep my coffee hot" "shoes for running on trails" "wireless headphones for flights"
  "a gift for someone who likes cooking" "waterproof jacket for hiking" "toys for a three year old"
  "a lamp for reading in bed" "ergonomic office chair" "kitchen knife that stays sharp" "garden tools")
# Raw latencies stay in .dev/bench-scale-latency.txt ("phase seconds code index_ready").
lat_file=.dev/$db-latency.txt; : >"$lat_file"; rm -f "$lat_file.idle"
trap 'kill $edit_pid 2>/dev/null || true; kill -TERM $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; rm -f "$lat_file.idle"' EXIT

# search PHASE: one query, appends "phase seconds http_code index_ready" to lat_file.
search() {
  local q=${queries[$((RANDOM % ${#queries[@]}))]} out
  out=$(curl -s -o /tmp/bench-scale-search.$$ -w '%{time_total} %{http_code}' -G "http://$addr/api/search" --data-urlencode "q=$q" --data-urlencode "k=10" || echo "0 000")
  local ready
  ready=$("$py" -c "import json,sys
try: print(json.load(open(sys.argv[1])).get('index_ready'))
except Exception: print('-')" /tmp/bench-scale-search.$$)
  echo "$1 $out $ready" >>"$lat_file"
}

# pct PHASE: p50/p99 of the phase's latencies and the index_ready answers.
pct() {
  "$py" - "$lat_file" "$1" <<'PY'
import sys
rows=[l.split() for l in open(sys.argv[1]) if l.split()[0]==sys.argv[2]]
if not rows: print("no samples"); sys.exit()
t=sorted(float(r[1])*1000 for r in rows)
q=lambda p: t[min(len(t)-1,int(p*len(t)))]
codes={}; ready={}
for r in rows: codes[r[2]]=codes.get(r[2],0)+1; ready[r[3]]=ready.get(r[3],0)+1
print(f"n={len(t)} p50={q(.5):.1f}ms p99={q(.99):.1f}ms max={t[-1]:.1f}ms http={codes} index_ready={ready}")
PY
}

# status PHASE: times the /status page (every half second while the
# bootstrap runs) into lat_file as "status-PHASE seconds code -".
status_page() {
  local out
  out=$(curl -s -o /dev/null -w '%{time_total} %{http_code}' "http://$addr/status" || echo "0 000")
  echo "status-$1 $out -" >>"$lat_file"
}
( while kill -0 "$serve_pid" 2>/dev/null && [ ! -e "$lat_file.idle" ]; do status_page bootstrap; sleep 0.5; done ) &
sampler_pid=$!

# after_bulk: serve's log from the last end of a bulk load on (all of it
# when there was none: a catalog below emu's bulk threshold).
after_bulk() {
  local at
  at=$(grep -an 'msg="bulk load done' "$log" | tail -1 | cut -d: -f1 || true)
  tail -n +"${at:-1}" "$log"
}
written=""
ready=""
until_written=""; [ "${BENCH_UNTIL:-}" = written ] && until_written=1
while :; do
  t0=$EPOCHREALTIME
  st=$("$bin" status --json 2>/dev/null || echo '{}')
  echo "cli-bootstrap $(elapsed "$t0") 200 -" >>"$lat_file"
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$serve_pid/status 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$rss_max" ] && rss_max=$rss
  now=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
  read -r products indexed state done total eta lanes < <("$py" -c "import json,sys
s=json.loads(sys.argv[1] or '{}'); si=s.get('search_index') or {}; l=s.get('queue_lanes') or {}
print(s.get('products',0), s.get('indexed',0), si.get('state','?'), si.get('done',0), si.get('total',0), int(si.get('eta_seconds',0)),
  ', '.join(f\"{k} {v.get('visible',0)}+{v.get('in_flight',0)}\" for k,v in sorted(l.items())))" "$st")
  say "t=${now}s indexed $indexed/$products, lanes (visible+in flight): $lanes, serve RSS $((rss / 1024)) MiB, search index $state $done/$total eta ${eta}s"
  if [ -z "$written" ] && [ "$products" -gt 0 ] && [ "$indexed" = "$products" ]; then
    kill "$edit_pid" 2>/dev/null || true
    # The moment of the last vector write, from the database's own clock.
    written=$(psql -qAt "$DATABASE_URL" -c "SELECT round((extract(epoch FROM max(indexed_at)) - $start_db)::numeric, 1) FROM index_state")
    say "every vector written after ${written}s ($("$py" -c "print(f'{$products/max(1,$written):.0f}')") rows/s)"
    stages=$(curl -s "http://$addr/metrics" | live_stages)
    [ -n "$until_written" ] && break
  fi
  case "$state" in
    building) for _ in 1 2 3; do search building; done ;;
    missing) for _ in 1 2 3; do search missing; done ;;
  esac
  # Ready once emu's build, category indexes included, has returned: the
  # log's "ready" after the bulk load's end (emu also logs one on start).
  if [ -n "$written" ] && [ "$state" = ready ] && after_bulk | grep -q 'msg="vector search index ready"'; then ready=$now; break; fi
  if ! kill -0 "$serve_pid" 2>/dev/null; then say "serve exited; see $log"; exit 1; fi
  sleep "${BENCH_POLL:-10}"
done
# The exact moment is in emu's log; status polls are 10 s apart.
[ -n "$until_written" ] || ready=$("$py" - "$start" <(after_bulk) <<'PY'
import sys,re,datetime
start=float(sys.argv[1]); t=None
for l in open(sys.argv[2]):
    if 'msg="vector search index ready"' in l:
        m=re.search(r'time=(\S+)', l)
        t=datetime.datetime.fromisoformat(m.group(1).replace('Z','+00:00')).timestamp()
print(f"{t-start:.0f}" if t else "?")
PY
)
build=$(grep -o 'vector search index built.*' "$log" | tail -1 || true)
[ -n "$until_written" ] || say "search index ready after ${ready}s ($build)"

touch "$lat_file.idle"; wait "$sampler_pid" 2>/dev/null || true
rounds=100; [ -n "${BENCH_SHORT:-}" ] && rounds=10; [ -n "$until_written" ] && rounds=0
for _ in $(seq 1 $rounds); do search ready; done
for _ in $(seq 1 $rounds); do status_page idle; done
for _ in $(seq 1 $((rounds / 5))); do
  t0=$EPOCHREALTIME; "$bin" status --json >/dev/null
  echo "cli-idle $(elapsed "$t0") 200 -" >>"$lat_file"
done
# reconcile is the exhaustive check: its rate over a minute, from its progress lines.
reconcile_line="(left out: BENCH_SHORT)"
[ -n "${BENCH_SHORT:-}${until_written}" ] || reconcile_line=$(timeout -s INT 60 "$bin" reconcile 2>&1 >/dev/null | grep 'products checked' | tail -1 || true)
page() { # page NAME URL: 50 requests, p50/p99
  "$py" - "$2" <<'PY'
import sys,time,urllib.request
t=[]
for _ in range(50):
    s=time.time(); urllib.request.urlopen(sys.argv[1]).read(); t.append((time.time()-s)*1000)
t.sort(); print(f"n=50 p50={t[25]:.1f}ms p99={t[49]:.1f}ms")
PY
}
cat="$(psql -qAt "$DATABASE_URL" -c "SELECT category FROM products LIMIT 1")"

# Each edited product's latency from its edit to its vector: both times from
# the database's clock.
edits=$(psql -qAt "$DATABASE_URL" -c "WITH e AS (SELECT DISTINCT id FROM unnest('{$(paste -sd, "$edit_ids")}'::bigint[]) AS id),
  x AS (SELECT p.updated_at, s.indexed_at FROM e JOIN products p ON p.id = e.id
        LEFT JOIN index_state s ON s.product_id = p.id AND s.version = p.version
        WHERE p.updated_at <= to_timestamp($start_db + $written)),
  l AS (SELECT extract(epoch FROM indexed_at - updated_at) * 1000 AS ms FROM x WHERE indexed_at IS NOT NULL)
  SELECT (SELECT count(*) FROM x), count(*), coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 0), 0),
         coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 0), 0), coalesce(round(max(ms)::numeric, 0), 0) FROM l" | tr '|' ' ')
read -r edits_n edits_ok edit_p50 edit_p99 edit_max <<<"$edits"
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$serve_pid/status 2>/dev/null || echo 0)
cat_q=$("$py" -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))" "$cat")

echo
echo "== bench-scale: $n products, hash embedder 512 dims =="
echo "seed:                           ${seed_s}s"
echo "all vectors written:            ${written}s after serve started ($("$py" -c "print(f'{$n/max(1,$written):.0f}')") rows/s)"
if [ -n "$until_written" ]; then
  echo "search index ready:             (not waited for: BENCH_UNTIL=written)"
else
  echo "search index ready:             ${ready}s after serve started (${build#*took=})"
fi
echo "edit during the backfill:       ${edits_ok}/${edits_n} edits indexed, p50=${edit_p50}ms p99=${edit_p99}ms max=${edit_max}ms (edit commit to vector recorded)"
echo "  where the edits' time went:   ${stages:-not read} (emu's refarch_emu_live_stage_seconds, live changes of the whole run)"
echo "serve --all peak RSS:           $((hwm / 1024)) MiB (VmHWM; $((rss_max / 1024)) MiB the most sampled while bootstrapping)"
echo "search while index missing:     $(pct missing)"
echo "search while index building:    $(pct building)"
echo "search with the index ready:    $(pct ready)"
echo "status page while bootstrapping: $(pct status-bootstrap)"
echo "status page idle:               $(pct status-idle)"
echo "status --json while bootstrapping: $(pct cli-bootstrap) (process start included)"
echo "status --json idle:             $(pct cli-idle) (process start included)"
echo "reconcile (first minute):       ${reconcile_line:-no progress line}"
if [ -z "${BENCH_SHORT:-}${until_written}" ]; then
  echo "GET /:                          $(page / "http://$addr/")"
  echo "GET /api/products:              $(page p "http://$addr/api/products")"
  echo "GET /api/products?category=:    $(page c "http://$addr/api/products?category=$cat_q")"
  echo "GET /api/products?after=500000: $(page a "http://$addr/api/products?after=$((n / 2))")"
fi
if [ -z "$until_written" ]; then
  echo "search at 8 clients and recall@10 (BenchmarkScaleSearch), load $(cut -d' ' -f1-3 /proc/loadavg):"
  ef=${REFARCH_BENCH_EF:-}; [ -n "${BENCH_SHORT:-}" ] && ef=${ef:-0}
  REFARCH_BENCH_EF=$ef REFARCH_BENCH_SCALE_ADDR="http://$addr" REFARCH_HASH_DIM=512 go test -run '^$' -bench '^BenchmarkScaleSearch$' -benchtime 1x -timeout 60m ./search/ |
    grep -vE '^(goos|goarch|pkg|cpu|PASS|ok)' | sed 's/^/  /'
fi
echo "build log lines:"
grep -aE 'build vector search index|building vector search index|vector search index (built|ready)|category search index built|bulk load' "$log" | sed 's/^/  /' | tail -40 || true
