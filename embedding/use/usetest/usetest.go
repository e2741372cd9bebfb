// Package usetest finds the use model for tests in any package.
package usetest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvModelDir names the variable that points tests at the model folder.
const EnvModelDir = "REFARCH_MODEL_DIR"

// ModelDir returns the model folder from REFARCH_MODEL_DIR. It skips the
// test when the variable is unset (a plain `go test` without the model) and
// fails it when the variable is set but the folder is not a model, so that
// `make test`, which always sets it, cannot pass without the model.
func ModelDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvModelDir)
	if dir == "" {
		t.Skipf("%s is unset: run `make model` and set %s (make test does both) to run the use model tests", EnvModelDir, EnvModelDir)
	}
	for _, f := range []string{"model.json", "vocab.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s=%s is not a use model folder (run `make model`): %v", EnvModelDir, dir, err)
		}
	}
	return dir
}
