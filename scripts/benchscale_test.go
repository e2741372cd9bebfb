// Package scripts_test runs the project's scripts at tiny sizes, so that
// the figures they print for the slow runs cannot rot unnoticed.
package scripts_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBenchScaleShort runs `make bench-scale`'s script on 3,000 products
// (BENCH_SHORT) and checks that it prints every figure issue 12's
// acceptance asks of the 1M run, each with a number.
func TestBenchScaleShort(t *testing.T) {
	for _, tool := range []string{"psql", "curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPING: bench-scale.sh needs %s", tool)
		}
	}
	if _, err := os.Stat("../.dev/env"); err != nil {
		t.Skip("SKIPPING: no local database settings (.dev/env); run make db")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "refarch")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, "./bench-scale.sh")
	// The script's serve and edit loop are in its process group: a timeout
	// ends them all, not the script alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "BENCH_SHORT=1", "BENCH_PRODUCTS=3000", "BENCH_POLL=1",
		"BENCH_DB=refarch_scale_test", "BENCH_BIN="+bin)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("bench-scale.sh: %v\n%s", err, out)
	}
	for _, line := range []string{
		"seed:", "all vectors written:", "search index ready:", "edit during the backfill:",
		"serve --all peak RSS:", "status page while bootstrapping:", "status --json while bootstrapping:",
		"status page idle:", "status --json idle:",
	} {
		i := strings.Index(out, line)
		if i < 0 {
			t.Errorf("bench-scale.sh printed no %q line", line)
			continue
		}
		rest, _, _ := strings.Cut(out[i+len(line):], "\n")
		if !strings.ContainsAny(rest, "0123456789") {
			t.Errorf("bench-scale.sh's %q line has no figure: %q", line, rest)
		}
	}
	// Search at 8 clients with and without filters, and recall@10.
	// The result line ("BenchmarkScaleSearch-2 ... recall@10 ..."), not the
	// heading that names the benchmark.
	_, bench, _ := strings.Cut(out, "BenchmarkScaleSearch-")
	bench, _, _ = strings.Cut(bench, "\n")
	for _, metric := range []string{"recall@10", "search_p50_ms", "search_p99_ms", "search_filtered_p50_ms", "search_filtered_p99_ms"} {
		if !strings.Contains(bench, " "+metric) {
			t.Errorf("BenchmarkScaleSearch reported no %s: %q", metric, bench)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
