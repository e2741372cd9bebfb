package cmd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refarch/refarch/internal/buildinfo"
)

// TestVersionIsStampedByMakeBuild builds the binary the way `make build` does and checks that
// `refarch version --json` reports the stamped values and the digest the task definition sets.
func TestVersionIsStampedByMakeBuild(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "refarch")
	build := exec.Command("make", "-s", "build", "BIN="+bin, "VERSION=v9.8.7", "COMMIT=0123abc", "BUILD_TIME=2026-11-30T20:00:00Z")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	run := exec.Command(bin, "version", "--json")
	run.Env = append(os.Environ(), buildinfo.DigestEnv+"=sha256:"+strings.Repeat("b", 64))
	out, err := run.Output()
	if err != nil {
		t.Fatalf("refarch version --json: %v", err)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	want := buildinfo.Info{Version: "v9.8.7", Commit: "0123abc", BuildTime: "2026-11-30T20:00:00Z", ImageDigest: "sha256:" + strings.Repeat("b", 64), GoVersion: got.GoVersion}
	if got != want || got.GoVersion == "" {
		t.Errorf("version --json = %+v, want %+v", got, want)
	}
	text, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(text), "refarch v9.8.7\n") {
		t.Errorf("refarch version = %q, %v", text, err)
	}
}
