package use

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadWeights feeds arbitrary model.json files, over one 64-byte shard,
// to the weight reader: it must return an error or weights that fit their
// shapes, never panic.
func FuzzReadWeights(f *testing.F) {
	f.Add([]byte(`{"weightsManifest":[{"paths":["s"],"weights":[{"name":"w","shape":[4,4],"dtype":"float32"}]}]}`))
	f.Add([]byte(`{"weightsManifest":[{"paths":["s"],"weights":[{"name":"i","shape":[2,2],"dtype":"int32"},{"name":"w","shape":[12],"dtype":"float32"}]}]}`))
	f.Add([]byte(`{"weightsManifest":[{"paths":["s"],"weights":[{"name":"w","shape":[4611686018427387904],"dtype":"float32"}]}]}`))
	f.Add([]byte(`{"weightsManifest":[{"paths":["../s"],"weights":[]}]}`))
	shard := make([]byte, 64)
	f.Fuzz(func(t *testing.T, manifest []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "model.json"), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "s"), shard, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := readWeights(dir)
		if err != nil {
			return
		}
		for name, tn := range w {
			if prod(tn.shape) != len(tn.data) {
				t.Fatalf("weight %s has shape %v and %d values", name, tn.shape, len(tn.data))
			}
		}
	})
}
