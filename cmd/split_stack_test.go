package cmd

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
)

// The debugger workflow (README, "One role in a debugger"): the stack runs
// without emu in one process (`serve --all --except emu`) and emu runs as
// its own `refarch emu` process, as under `make debug ROLE=emu`. An edit made
// through the API is indexed by that separate emu, and both processes stop
// cleanly on SIGTERM.
func TestStackWithoutEmuPlusSeparateEmuIndexesAnEdit(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "refarch")
	build := exec.Command("go", "build", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbURL := pgtest.NewURL(t)
	stackAddr, emuAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "REFARCH_EMBEDDER=hash", "REFARCH_PELICAN_POLL_INTERVAL=50ms")

	start := func(args ...string) (*exec.Cmd, *syncBuffer) {
		t.Helper()
		log := &syncBuffer{}
		c := exec.Command(bin, args...)
		c.Env, c.Stdout, c.Stderr = env, log, log
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() }) // a no-op once stopped
		return c, log
	}
	stop := func(name string, c *exec.Cmd, log *syncBuffer) {
		t.Helper()
		if err := c.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v\n%s", name, err, log)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30 s of SIGTERM\n%s", name, log)
		}
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	stack, stackLog := start("serve", "--all", "--except", "emu", "--addr", stackAddr)
	base := "http://" + stackAddr
	testkit.WaitFor(t, time.Minute, func() string {
		if code, body := get(base + "/readyz"); code != http.StatusOK {
			return fmt.Sprintf("stack /readyz: %d %s\n%s", code, body, stackLog)
		}
		return ""
	})
	if _, metrics := get(base + "/metrics"); strings.Contains(metrics, "refarch_emu_") ||
		!strings.Contains(metrics, "refarch_pelican_") {
		t.Fatal("serve --all --except emu should run pelican but not emu")
	}
	req := func(method, path, body string) (int, string) {
		t.Helper()
		r, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := req("POST", "/api/products", `{"sku":"DBG-1","name":"Field notebook","description":"waterproof paper","price":7,"category":"office"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var id int
	fmt.Sscanf(body[strings.Index(body, `"id":`)+5:], "%d", &id)

	emu, emuLog := start("emu", "--addr", emuAddr)
	if code, body := req("PATCH", fmt.Sprintf("/api/products/%d", id), `{"description":"waterproof paper, pencil included"}`); code != http.StatusOK {
		t.Fatalf("edit: %d %s", code, body)
	}
	testkit.WaitFor(t, time.Minute, func() string {
		n := queryInt(t, dbURL, fmt.Sprintf(`SELECT count(*) FROM index_state WHERE product_id = %d AND version = 2`, id))
		if n != 1 {
			return "the edit (version 2) is not indexed yet\nstack:\n" + stackLog.String() + "\nemu:\n" + emuLog.String()
		}
		return ""
	})
	stop("emu", emu, emuLog)
	stop("serve --all --except emu", stack, stackLog)
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
