// Package recall measures how often search finds what an exact scan finds:
// it loads a catalog (the seed CSV or the generator's), embeds it once
// (cached on disk, since the use model takes tens of seconds for the seed
// CSV), and holds the isolated edits that HNSW handles worst. The tests
// and benchmarks of search and pgvectorstore share it.
package recall

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/product"
)

// Item is one catalog row as search sees it.
type Item struct{ Name, Description string }

// Text is what the embedder reads for the item.
func (it Item) Text() string { return product.EmbedText(it.Name, it.Description) }

// SeedCSV finds ../shared/data/seed-products.csv above the working
// directory, or REFARCH_SEED_CSV; "" when there is none.
func SeedCSV() string {
	if p := os.Getenv("REFARCH_SEED_CSV"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "..", "shared", "data", "seed-products.csv")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// LoadCSV reads the name and description columns of a catalog CSV with a
// header naming them.
func LoadCSV(path string) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open catalog csv: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read catalog csv header: %w", err)
	}
	name, desc := slices.Index(head, "name"), slices.Index(head, "description")
	if name < 0 || desc < 0 {
		return nil, fmt.Errorf("read catalog csv %s: header %v lacks name or description", path, head)
	}
	var items []Item
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read catalog csv %s: %w", path, err)
		}
		items = append(items, Item{Name: rec[name], Description: rec[desc]})
	}
}

// Embed embeds every item's text, in batches, reusing a cache file under
// dir keyed by the model and the set of texts (in any order: a catalog
// seeded by parallel workers gets its ids in a different order each time),
// so that only the first run pays. dir "" disables the cache.
func Embed(ctx context.Context, emb embedding.Embedder, items []Item, dir string) ([][]float32, error) {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(items[a].Text(), items[b].Text()) })
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", emb.Model(), emb.Dimension())
	for _, i := range order {
		fmt.Fprintf(h, "%s\x00", items[i].Text())
	}
	var path string
	if dir != "" {
		path = filepath.Join(dir, "recall-"+hex.EncodeToString(h.Sum(nil)[:12])+".f32")
		if sorted, err := readVectors(path, len(items), emb.Dimension()); err == nil {
			vecs := make([][]float32, len(items))
			for j, i := range order {
				vecs[i] = sorted[j]
			}
			return vecs, nil
		}
	}
	vecs := make([][]float32, 0, len(items))
	const batch = 64
	for lo := 0; lo < len(items); lo += batch {
		texts := make([]string, 0, batch)
		for _, it := range items[lo:min(lo+batch, len(items))] {
			texts = append(texts, it.Text())
		}
		vs, err := emb.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed catalog rows %d..%d: %w", lo, lo+len(texts), err)
		}
		vecs = append(vecs, vs...)
	}
	if path != "" {
		sorted := make([][]float32, len(items))
		for j, i := range order {
			sorted[j] = vecs[i]
		}
		if err := writeVectors(path, sorted); err != nil {
			return nil, err
		}
	}
	return vecs, nil
}

func readVectors(path string, n, dim int) ([][]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != n*dim*4 {
		return nil, fmt.Errorf("read vector cache %s: %d bytes, want %d", path, len(b), n*dim*4)
	}
	vecs := make([][]float32, n)
	for i := range vecs {
		v := make([]float32, dim)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[(i*dim+j)*4:]))
		}
		vecs[i] = v
	}
	return vecs, nil
}

func writeVectors(path string, vecs [][]float32) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write vector cache: %w", err)
	}
	var b []byte
	for _, v := range vecs {
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write vector cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write vector cache: %w", err)
	}
	return nil
}

// CacheDir is where Embed keeps vectors between runs: outside the clone,
// beside the model weights.
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "refarch", "recall")
	}
	return ""
}
