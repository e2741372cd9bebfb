package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every family published to CloudWatch is a metric some role registers: a renamed metric would
// otherwise leave a dashboard widget silently empty.
func TestEMFFamiliesExist(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	for _, dir := range []string{"../roles/serve", "../roles/pelican", "../roles/emu"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	for _, name := range emfFamilies {
		if !strings.Contains(src.String(), `"`+name+`"`) {
			t.Errorf("EMF family %s is registered by no role", name)
		}
	}
}
