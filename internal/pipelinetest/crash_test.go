package pipelinetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/failpoint"
)

// binDir holds the refarch binary the crash tests build; TestMain removes it.
var binDir string

// refarchBinary builds the refarch binary with failpoints compiled in, once
// per test run.
var refarchBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "refarch-failpoints-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "refarch")
	out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", bin, "github.com/refarch/refarch").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build refarch with failpoints: %w\n%s", err, out)
	}
	return bin, nil
})

// proc is a real refarch process running one role.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{}
	err    error
}

// startRole runs `refarch role` against e's database with the hash
// embedder of e's model; extra holds KEY=VALUE environment settings.
func (e *env) startRole(t *testing.T, role string, extra ...string) *proc {
	t.Helper()
	bin, err := refarchBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, role, "--database-url", e.url, "--embedder", "hash", "--hash-dim", "32",
		"--addr", "127.0.0.1:0", "--pelican-poll-interval", "200ms", "--emu-batch-size", "16", "--log-level", "warn")
	// Settings a test may override in extra (the last value wins).
	cmd.Env = append(os.Environ(), "REFARCH_EMU_VISIBILITY=3s", "REFARCH_QUEUE_MAX_RECEIVES="+fmt.Sprint(maxReceives))
	cmd.Env = append(cmd.Env, extra...)
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = &syncWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("refarch %s did not stop within 30s of SIGTERM", role)
		}
	})
	return p
}

// killedAt waits for the process to SIGKILL itself at failpoint name.
func (p *proc) killedAt(t *testing.T, name string, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("refarch never reached failpoint %s within %s", name, d)
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL ||
		!strings.Contains(p.stderr.String(), "failpoint "+name+": SIGKILL") {
		t.Fatalf("refarch ended with %v, want a SIGKILL at %s; stderr:\n%s", p.err, name, p.stderr.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// Hard crashes: real refarch processes SIGKILLed at each named failpoint
// (not a cancelled context: nothing deferred runs, no transaction is rolled
// back politely). After a restart without the failpoint every change is
// indexed at its current version, with nothing lost and nothing
// dead-lettered.
func TestSIGKILLAtFailpoints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		point string
		role  string
		hit   int
	}{
		{failpoint.EmuAfterStoreWrite, "emu", 2},
		{failpoint.EmuBeforeAck, "emu", 2},
		{failpoint.PelicanAfterSend, "pelican", 1},
		{failpoint.PelicanInCatchupChunk, "pelican", 1},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t)
			// Products that predate pelican with no outbox row (as after
			// a bulk load) go through catch-up; the rest through the
			// outbox.
			ids := e.insert(ctx, 40, "before")
			e.exec(ctx, `DELETE FROM sync_outbox`)
			arm := fmt.Sprintf("REFARCH_FAILPOINTS=%s@%d", tc.point, tc.hit)
			var victim *proc
			if tc.role == "emu" {
				victim = e.startRole(t, "emu", arm)
				e.startRole(t, "pelican")
			} else {
				e.startRole(t, "emu")
				victim = e.startRole(t, "pelican", arm)
			}
			if tc.point != failpoint.PelicanInCatchupChunk {
				more := e.insert(ctx, 40, "after")
				e.exec(ctx, `UPDATE products SET description = description || ' edited' WHERE id = ANY($1)`, append(ids[:10], more[:10]...))
				e.exec(ctx, `DELETE FROM products WHERE id = ANY($1)`, ids[30:35])
			}
			victim.killedAt(t, tc.point, 60*time.Second)
			e.exec(ctx, `UPDATE products SET price = price + 1 WHERE id = ANY($1)`, ids[20:25])
			e.startRole(t, tc.role)
			e.converged(ctx, 90*time.Second)
			if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 {
				t.Fatalf("after the crash: %+v", s)
			}
		})
	}
}
