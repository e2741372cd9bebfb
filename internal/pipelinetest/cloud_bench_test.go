package pipelinetest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding/use"
	"github.com/refarch/refarch/internal/cloudsim"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
)

// The latencies the cloud model runs with: SQS in-region (p50 15 ms, long
// tail) and Pinecone serverless (tens of ms). The pelican target is stated
// at a flat 20 ms a call.
var (
	sqsLatency      = cloudsim.Latency{P50: 15 * time.Millisecond, P99: 80 * time.Millisecond}
	pineconeLatency = cloudsim.Latency{P50: 30 * time.Millisecond, P99: 120 * time.Millisecond}
	flat20ms        = cloudsim.Latency{P50: 20 * time.Millisecond}
)

// cloudModel sizes one run of the model.
type cloudModel struct {
	products int    // products enqueued and indexed per run
	rounds   int    // runs of each emu configuration; the best counts
	workers  []int  // emu worker counts
	embedder string // "use" measures the built-in model's texts/s
}

// The model runs on cloudsim's in-memory SQS FIFO stand-in, not the
// Postgres queue: wrapped in the latency layer, the Postgres queue would
// do one statement per 10-message call where it does one per batch alone,
// and that work on this machine would be counted as the cloud's latency.

// pelicanRun enqueues n products with one pelican's catch-up into the
// in-memory queue, through the latency layer when lat is set, and returns
// messages/s and this process's CPU time per message.
func pelicanRun(tb testing.TB, n int, lat *cloudsim.Latency, concurrency int) (float64, time.Duration) {
	ctx := context.Background()
	e := newEnv(tb)
	e.insert(ctx, n, "bench")
	mem := cloudsim.NewMemQueue(maxReceives)
	var q queue.Queue = mem
	cfg := pelican.Config{Model: e.model, BatchSize: 1000, PollInterval: time.Second, SendBatch: cloudsim.SQSMaxBatch, SendConcurrency: concurrency}
	if lat != nil {
		q = cloudsim.NewQueue(mem, cloudsim.SQSFIFO(true, *lat), 1)
	} else {
		cfg.SendBatch = 0
	}
	cpu := cpuTime(tb)
	start := time.Now()
	r := e.startPelican(cfg, q)
	waitDepth(tb, mem, n)
	took := time.Since(start)
	cpu = cpuTime(tb) - cpu
	r.stop()
	e.pool.Reset()
	return float64(n) / took.Seconds(), cpu / time.Duration(n)
}

func waitDepth(tb testing.TB, q queue.Queue, n int) {
	ctx := context.Background()
	for {
		d, err := q.Depth(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if d.Visible+d.InFlight >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// emuRun is one run of emu over an enqueued backlog.
type emuRun struct {
	perSec float64       // vectors written per second of wall time
	batch  time.Duration // mean batch time, receipt to every message settled
	// emuCPU and pgCPU are the CPU time per vector of this process (emu,
	// and the in-memory queue and latency layer it calls) and of the
	// Postgres cluster: on a shared machine, wall time counts others' work
	// too, CPU time much less.
	emuCPU, pgCPU time.Duration
	load          float64 // the 1-minute load average when the run ended
}

// runEmu indexes n enqueued products with workers emu workers, on the
// local backends or (cloud) on them wrapped in the SQS and Pinecone
// latency and quota layer.
func runEmu(tb testing.TB, n, workers int, cloud bool) emuRun {
	ctx := context.Background()
	e := newEnv(tb)
	e.insert(ctx, n, "bench")
	mem := cloudsim.NewMemQueue(maxReceives)
	p := e.startPelican(pelican.Config{Model: e.model, BatchSize: 1000, PollInterval: time.Second}, mem)
	waitDepth(tb, mem, n)
	p.stop()
	var q queue.Queue = mem
	store := e.store
	cfg := emu.Config{Concurrency: workers, BatchSize: 64, Visibility: time.Minute, Wait: time.Second, DepthInterval: -1}
	if cloud {
		q = cloudsim.NewQueue(mem, cloudsim.SQSFIFO(true, sqsLatency), uint64(workers))
		store = cloudsim.NewStore(e.store, cloudsim.PineconeServerless(pineconeLatency), uint64(workers)+1)
		cfg.ReceiveBatch, cfg.ReceiveConcurrency = cloudsim.SQSMaxBatch, 8
	}
	reg := prometheus.NewRegistry()
	pg := postgresCPU(tb, e)
	cpu := cpuTime(tb)
	began := time.Now()
	r := start(tb, emu.New(e.pool, q, e.emb, store, cfg, e.log, reg).Run)
	// Emu's own count of products embedded says when it is done: polling
	// index_state with SQL would load the Postgres being measured.
	for counter(tb, reg, "refarch_emu_products_embedded_total") < float64(n) {
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(began)
	cpu = cpuTime(tb) - cpu
	pg = postgresCPU(tb, e) - pg
	r.stop()
	if _, done := e.indexedCount(ctx); done != n {
		tb.Fatalf("%d of %d products indexed after emu counted them all", done, n)
	}
	// The runs' databases live until the benchmark ends: let go of their
	// connections now.
	e.pool.Reset()
	return emuRun{perSec: float64(n) / took.Seconds(), batch: meanBatch(tb, reg),
		emuCPU: cpu / time.Duration(n), pgCPU: pg / time.Duration(n), load: loadAverage(tb)}
}

// counter is the value of a counter in reg (0 before its first sample).
func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	fams, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// postgresCPU is the CPU time the Postgres cluster behind e has used: its
// live processes' and, through the postmaster's count of its reaped
// children, the connections that ended. The benchmark's cluster serves no
// one else while it runs.
func postgresCPU(tb testing.TB, e *env) time.Duration {
	var backend int
	if err := e.pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		tb.Fatal(err)
	}
	postmaster := procStat(tb, backend)[3]
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	ticks := 0
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		f := procStat(nil, pid)
		switch {
		case f == nil:
		case pid == postmaster:
			ticks += f[13] + f[14] + f[15] + f[16]
		case f[3] == postmaster:
			ticks += f[13] + f[14]
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTicks = 100

// procStat is /proc/PID/stat's numeric fields, numbered from 0 (pid) with
// the command's field counted; nil when the process is gone (tb nil) .
func procStat(tb testing.TB, pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if tb != nil {
			tb.Fatal(err)
		}
		return nil
	}
	// The command, field 1, is in parentheses and may hold spaces.
	rest := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	out := []int{pid, 0}
	for _, f := range rest {
		v, _ := strconv.Atoi(f)
		out = append(out, v)
	}
	return out
}

// loadAverage is the machine's 1-minute load average.
func loadAverage(tb testing.TB) float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		tb.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// meanBatch is the mean of emu's refarch_emu_batch_seconds.
func meanBatch(tb testing.TB, reg *prometheus.Registry) time.Duration {
	fams, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "refarch_emu_batch_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			return time.Duration(h.GetSampleSum() / float64(max(h.GetSampleCount(), 1)) * float64(time.Second))
		}
	}
	return 0
}

// useTextsPerSecond measures the built-in model on seeded catalog texts,
// in batches of 64, as texts per second of this process's CPU time: on a
// machine shared with other work, wall time would count their share too.
func useTextsPerSecond(tb testing.TB, dir string) float64 {
	m, err := use.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var texts []string
	for _, p := range catalog.Generate(512, 1) {
		texts = append(texts, p.EmbedText())
	}
	ctx := context.Background()
	if _, err := m.Embed(ctx, texts[:64]); err != nil { // warm up
		tb.Fatal(err)
	}
	before := cpuTime(tb)
	for i := 0; i < len(texts); i += 64 {
		if _, err := m.Embed(ctx, texts[i:i+64]); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(len(texts)) / (cpuTime(tb) - before).Seconds()
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The AWS figures the projection uses (docs/deploy.md says where they come
// from): emu tasks of 1 vCPU, counted as one core of this machine, running
// emuTaskWorkers workers (REFARCH_CONCURRENCY in the services module) of
// emu's default pipeline; at most emuMaxTasks of them; one pelican;
// Pinecone's 100 upsert requests/s per namespace, of one emu batch (64
// vectors) each; the database's vCPUs (db.t4g.small, the default
// db_instance_class).
const (
	dbVCPU            = 2.0
	emuTaskVCPU       = 1.0
	emuTaskWorkers    = 2
	emuMaxTasks       = 12
	emuBatch          = 64
	pineconeUpsertsPS = 100
)

type modelResult struct {
	pelicanLocal, pelicanSeq, pelicanConc float64
	pelicanLoad                           float64
	pelicanCPU                            time.Duration // per message, concurrent, simulated
	// rounds holds each worker count's runs, a local and a simulated one
	// per round, back to back.
	rounds  map[int][]emuPair
	useRate float64
}

type emuPair struct{ local, cloud emuRun }

// ratio is the pair's simulated/local throughput: taken a few seconds
// apart, the two runs share most of the machine's other load.
func (p emuPair) ratio() float64 { return p.cloud.perSec / p.local.perSec }

// median of the rounds' values of f.
func median(ps []emuPair, f func(emuPair) float64) float64 {
	if len(ps) == 0 {
		return 0
	}
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = f(p)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func runCloudModel(tb testing.TB, m cloudModel) modelResult {
	r := modelResult{rounds: map[int][]emuPair{}}
	r.pelicanLocal, _ = pelicanRun(tb, m.products, nil, 1)
	r.pelicanSeq, _ = pelicanRun(tb, min(m.products, 2000), &flat20ms, 1)
	r.pelicanConc, r.pelicanCPU = pelicanRun(tb, m.products, &flat20ms, 0)
	r.pelicanLoad = loadAverage(tb)
	if os.Getenv("BENCH_CLOUD_ONLY") == "pelican" {
		m.workers = nil
	}
	// Each round runs every worker count locally and simulated, back to
	// back, the order swapped every other round so that neither side
	// always runs second; the ratio is taken within a round.
	for round := range max(m.rounds, 1) {
		for _, w := range m.workers {
			var p emuPair
			if round%2 == 0 {
				p.local = runEmu(tb, m.products, w, false)
				p.cloud = runEmu(tb, m.products, w, true)
			} else {
				p.cloud = runEmu(tb, m.products, w, true)
				p.local = runEmu(tb, m.products, w, false)
			}
			r.rounds[w] = append(r.rounds[w], p)
		}
	}
	if m.embedder == "use" {
		if dir := os.Getenv("REFARCH_MODEL_DIR"); dir != "" {
			if _, err := os.Stat(dir + "/model.json"); err == nil {
				r.useRate = useTextsPerSecond(tb, dir)
			}
		}
	}
	return r
}

// perTask is the products/s of one emu task embedding with the built-in
// model: its vCPU spends, per product, the model's CPU time and emu's own
// (measured as CPU time in the simulated runs at the task's worker count;
// Postgres runs elsewhere, on RDS). Both are CPU time, so the machine's
// other load barely moves it.
func (r modelResult) perTask() float64 {
	own := median(r.rounds[emuTaskWorkers], func(p emuPair) float64 { return p.cloud.emuCPU.Seconds() })
	return emuTaskVCPU / (1/r.useRate + own)
}

// dbRate is the products/s the database's vCPUs can serve emu at the
// Postgres CPU time per product measured in the simulated runs. It is a
// floor: there Postgres also holds the vectors (pgvector behind the
// Pinecone layer), which Pinecone takes off RDS.
func (r modelResult) dbRate() float64 {
	pg := median(r.rounds[emuTaskWorkers], func(p emuPair) float64 { return p.cloud.pgCPU.Seconds() })
	return dbVCPU / pg
}

// projection is the bootstrap wall time of n products with tasks emu
// tasks of the built-in model: the slowest of one pelican, the emu tasks,
// Pinecone's upsert quota and the database.
func (r modelResult) projection(n float64, tasks int) (time.Duration, string) {
	rates := map[string]float64{
		"pelican (1 task)":                        r.pelicanConc,
		fmt.Sprintf("emu (%d tasks)", tasks):      float64(tasks) * r.perTask(),
		"pinecone upsert quota":                   pineconeUpsertsPS * emuBatch,
		fmt.Sprintf("database (%g vCPU)", dbVCPU): r.dbRate(),
	}
	bound, rate := "", math.Inf(1)
	for k, v := range rates {
		if v < rate {
			bound, rate = k, v
		}
	}
	return time.Duration(n / rate * float64(time.Second)), bound
}

func (r modelResult) table(m cloudModel) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\npelican, %d products: local %.0f msgs/s; SQS sim at 20 ms/call: sequential %.0f msgs/s, concurrent (defaults) %.0f msgs/s, %.1f µs CPU/msg (load %.1f)\n",
		m.products, r.pelicanLocal, r.pelicanSeq, r.pelicanConc, float64(r.pelicanCPU)/float64(time.Microsecond), r.pelicanLoad)
	if len(m.workers) > 0 {
		fmt.Fprintf(&b, "emu, %d products a run, %d rounds; medians over the rounds, sim/local within each round (lowest-highest)\n", m.products, max(m.rounds, 1))
		fmt.Fprintf(&b, "| emu workers | local vectors/s | sim vectors/s | sim/local | emu CPU µs/vector local, sim | Postgres CPU µs/vector local, sim | CPU ceiling | batch (sim) | load |\n|---|---|---|---|---|---|---|---|---|\n")
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	for _, w := range m.workers {
		ps := r.rounds[w]
		lo, hi, loadLo, loadHi := math.Inf(1), 0.0, math.Inf(1), 0.0
		for _, p := range ps {
			lo, hi = min(lo, p.ratio()), max(hi, p.ratio())
			loadLo, loadHi = min(loadLo, p.local.load, p.cloud.load), max(loadHi, p.local.load, p.cloud.load)
		}
		// Where both runs are bound by the machine's CPU, the simulated one
		// reaches at most local's CPU time per vector over its own.
		ceiling := median(ps, func(p emuPair) float64 {
			return float64(p.local.emuCPU+p.local.pgCPU) / float64(p.cloud.emuCPU+p.cloud.pgCPU)
		})
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f%% (%.0f-%.0f%%) | %.0f, %.0f | %.0f, %.0f | %.0f%% | %s | %.0f-%.0f |\n", w,
			median(ps, func(p emuPair) float64 { return p.local.perSec }),
			median(ps, func(p emuPair) float64 { return p.cloud.perSec }),
			100*median(ps, emuPair.ratio), 100*lo, 100*hi,
			median(ps, func(p emuPair) float64 { return us(p.local.emuCPU) }),
			median(ps, func(p emuPair) float64 { return us(p.cloud.emuCPU) }),
			median(ps, func(p emuPair) float64 { return us(p.local.pgCPU) }),
			median(ps, func(p emuPair) float64 { return us(p.cloud.pgCPU) }),
			100*ceiling,
			time.Duration(median(ps, func(p emuPair) float64 { return float64(p.cloud.batch) })).Round(time.Millisecond),
			loadLo, loadHi)
	}
	if w := emuTaskWorkers; r.useRate > 0 && len(r.rounds[w]) > 0 {
		fmt.Fprintf(&b, "built-in model: %.0f texts per CPU-second; an emu task of %g vCPU and %d workers: %.0f products/s; the database's %g vCPU: %.0f products/s at most\n",
			r.useRate, emuTaskVCPU, w, r.perTask(), dbVCPU, r.dbRate())
		fmt.Fprintf(&b, "| products | emu tasks | projected bootstrap | bound by |\n|---|---|---|---|\n")
		for _, n := range []float64{1e6, 1e7} {
			for _, tasks := range []int{2, emuMaxTasks, 32, 55} {
				d, bound := r.projection(n, tasks)
				fmt.Fprintf(&b, "| %.0fM | %d | %s | %s |\n", n/1e6, tasks, d.Round(time.Second), bound)
			}
		}
	}
	return b.String()
}

// BenchmarkCloudBootstrap is the bootstrap-time model: the real pelican and
// emu against the local backends and against them wrapped in the SQS FIFO
// (high throughput) and Pinecone serverless latency and quota layer, with the
// hash test embedder, for 1, 2, 4 and 8 emu workers; then the built-in
// model's texts/s and the projected 1M and 10M bootstraps on AWS.
// BENCH_CLOUD_PRODUCTS sets the products per run (default 20,000),
// BENCH_CLOUD_ROUNDS the rounds of emu runs (default 1; the table gives
// medians and the ratio's range);
// BENCH_CLOUD_WORKERS the worker counts (default 1,2,4,8);
// BENCH_CLOUD_ONLY=pelican runs the pelican part alone.
func BenchmarkCloudBootstrap(b *testing.B) {
	m := cloudModel{products: envInt("BENCH_CLOUD_PRODUCTS", 20000), rounds: envInt("BENCH_CLOUD_ROUNDS", 1), workers: []int{1, 2, 4, 8}, embedder: "use"}
	if v := os.Getenv("BENCH_CLOUD_WORKERS"); v != "" {
		m.workers = nil
		for _, f := range strings.Split(v, ",") {
			w, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || w <= 0 {
				b.Fatalf("BENCH_CLOUD_WORKERS=%q: want worker counts separated by commas", v)
			}
			m.workers = append(m.workers, w)
		}
	}
	for b.Loop() {
		r := runCloudModel(b, m)
		b.ReportMetric(r.pelicanConc, "pelican-msgs/s")
		b.ReportMetric(median(r.rounds[8], func(p emuPair) float64 { return p.cloud.perSec }), "emu8-vectors/s")
		// Printed, not logged: the test runner cuts long benchmark logs.
		fmt.Print(r.table(m))
	}
}

// TestCloudModelShort is the short version of BenchmarkCloudBootstrap that
// make test runs: every run of the model indexes everything it enqueued.
func TestCloudModelShort(t *testing.T) {
	t.Parallel()
	m := cloudModel{products: 300, workers: []int{1, 2}}
	r := runCloudModel(t, m)
	for _, w := range m.workers {
		for _, p := range r.rounds[w] {
			if p.local.perSec <= 0 || p.cloud.perSec <= 0 || p.local.emuCPU <= 0 || p.cloud.emuCPU <= 0 {
				t.Fatalf("%d workers: no throughput or CPU time measured (%+v)", w, p)
			}
		}
	}
	t.Log(r.table(m))
}
