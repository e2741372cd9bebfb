package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/embedding/use"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
)

// The rolling deploy that changes the model (issue 13), with real
// processes: an emu of the old configuration (no files of the new model)
// and one of the new configuration run side by side. Once a generation of
// the new model exists, the old emu receives nothing and acknowledges
// nothing, so no change is lost to it; the new one writes both
// generations. Both generations then equal the table, the new one is
// promoted, and the old one dropped.
func TestRollingDeployOldAndNewEmuSideBySide(t *testing.T) {
	t.Parallel()
	modelDir := os.Getenv("REFARCH_MODEL_DIR")
	if modelDir == "" {
		modelDir = use.DefaultDir()
	}
	if _, err := os.Stat(filepath.Join(modelDir, "model.json")); err != nil {
		t.Skipf("the use model is not in %s (make model): %v", modelDir, err)
	}
	bin := filepath.Join(t.TempDir(), "refarch")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbURL := pgtest.NewURL(t)
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "REFARCH_EMBEDDER=hash", "REFARCH_PELICAN_POLL_INTERVAL=50ms",
		"REFARCH_MODEL_DIR="+modelDir)
	oldEnv := append(append([]string(nil), env...), "REFARCH_MODEL_DIR="+filepath.Join(t.TempDir(), "no-model-here"))
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.Output()
		if err != nil {
			var stderr []byte
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				stderr = ee.Stderr
			}
			t.Fatalf("refarch %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	start := func(env []string, args ...string) (*exec.Cmd, *syncBuffer) {
		t.Helper()
		log := &syncBuffer{}
		c := exec.Command(bin, args...)
		c.Env, c.Stdout, c.Stderr = env, log, log
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c, log
	}
	stop := func(c *exec.Cmd) {
		t.Helper()
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v", c.Args[1], err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30 s of SIGTERM", c.Args[1])
		}
	}
	get := func(url string) string {
		resp, err := http.Get(url)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	type genRow struct {
		Name           string
		Model          string
		Dims           int
		Store          string
		State          string
		Indexed, Total int64
	}
	list := func() map[string]genRow {
		t.Helper()
		var rows []genRow
		if err := json.Unmarshal([]byte(run("index", "list", "--json")), &rows); err != nil {
			t.Fatal(err)
		}
		out := map[string]genRow{}
		for _, r := range rows {
			out[r.Name] = r
		}
		return out
	}
	complete := func(what string, logs ...*syncBuffer) {
		t.Helper()
		testkit.WaitFor(t, 3*time.Minute, func() string {
			for _, r := range list() {
				if r.Indexed != r.Total {
					s := fmt.Sprintf("%s: generation %s has %d of %d", what, r.Name, r.Indexed, r.Total)
					for _, l := range logs {
						s += "\n" + tail(l.String(), 1500)
					}
					return s
				}
			}
			return ""
		})
	}

	run("seed", "--count", "120")
	stackAddr, oldAddr, newAddr := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	stack, stackLog := start(env, "serve", "--all", "--except", "emu", "--addr", stackAddr)
	oldEmu, oldLog := start(oldEnv, "emu", "--addr", oldAddr)
	complete("bootstrap", stackLog, oldLog)
	first := list()
	if len(first) != 1 {
		t.Fatalf("generations after the first start: %+v", first)
	}
	var oldName string
	for name, r := range first {
		oldName = name
		if r.State != "active" || r.Dims != 64 || r.Store == "" || r.Model != "hash-v1-64" {
			t.Fatalf("first generation %+v: want the configured hash model, active", r)
		}
	}

	newName := strings.TrimSpace(run("index", "create", "--embedder", "use"))
	// The old emu cannot open the new model: it stops receiving.
	testkit.WaitFor(t, time.Minute, func() string {
		if !regexp.MustCompile(`(?m)^refarch_emu_generation_unserved 1$`).MatchString(get("http://" + oldAddr + "/metrics")) {
			return "the old emu does not report the new generation as unserved\n" + tail(oldLog.String(), 1500)
		}
		return ""
	})
	acked := func() string {
		return regexp.MustCompile(`(?m)^refarch_emu_messages_acked_total .*$`).FindString(get("http://" + oldAddr + "/metrics"))
	}
	before := acked()
	// Changes made while only the old emu runs: nothing may be acknowledged.
	if _, err := pgxExec(dbURL, `UPDATE products SET description = description || ' (rolling deploy edit)' WHERE id <= 20`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgxExec(dbURL, `UPDATE products SET price = price + 1 WHERE id BETWEEN 21 AND 30`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // pelican sends them; the old emu must leave them
	if n := queryInt(t, dbURL, fmt.Sprintf(`SELECT count(*) FROM index_state s JOIN products p ON p.id = s.product_id
		WHERE s.model = '%s' AND p.id <= 30 AND s.version = p.version`, oldName)); n != 0 {
		t.Errorf("%d of the 30 edits reached the old generation through the old emu, which cannot write the new one", n)
	}
	if after := acked(); after != before {
		t.Errorf("the old emu acknowledged messages while it could not write every live generation: %q then %q", before, after)
	}

	newEmu, newLog := start(env, "emu", "--addr", newAddr)
	complete("the new emu writing both generations", stackLog, newLog)
	now := list()
	if r := now[newName]; r.State != "building" || r.Dims != 512 || r.Model != use.ModelID {
		t.Errorf("new generation %+v: want building, %s, 512 dimensions", r, use.ModelID)
	}
	for _, name := range []string{oldName, newName} {
		if n := queryInt(t, dbURL, fmt.Sprintf(`SELECT count(*) FROM products p LEFT JOIN index_state s ON s.model = '%s' AND s.product_id = p.id
			WHERE s.version IS DISTINCT FROM p.version`, name)); n != 0 {
			t.Errorf("generation %s: %d products not at their current version", name, n)
		}
	}
	if out := run("index", "promote", newName); !strings.Contains(out, "active") {
		t.Errorf("promote: %q", out)
	}
	testkit.WaitFor(t, 30*time.Second, func() string {
		body := get("http://" + stackAddr + "/api/search?min_score=0&q=" + "rolling+deploy+edit")
		if !strings.Contains(body, `"score"`) {
			return "search after the promotion: " + body
		}
		return ""
	})
	if out := run("index", "drop", oldName); !strings.Contains(out, "dropped") {
		t.Errorf("drop: %q", out)
	}
	if n := queryInt(t, dbURL, fmt.Sprintf(`SELECT count(*) FROM index_state WHERE model = '%s'`, oldName)); n != 0 {
		t.Errorf("%d index_state rows left of the dropped generation", n)
	}
	stop(newEmu)
	stop(oldEmu)
	stop(stack)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// pgxExec runs one statement on url.
func pgxExec(url, sql string) (int64, error) {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	tag, err := conn.Exec(context.Background(), sql)
	return tag.RowsAffected(), err
}
