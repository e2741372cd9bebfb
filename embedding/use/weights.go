package use

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// manifest is the part of a TensorFlow.js model.json that locates weights.
type manifest struct {
	WeightsManifest []struct {
		Paths   []string `json:"paths"`
		Weights []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
			DType string `json:"dtype"`
		} `json:"weights"`
	} `json:"weightsManifest"`
}

// tensor is one float32 weight with its shape.
type tensor struct {
	shape []int
	data  []float32
}

// readWeights loads every float32 weight listed in dir/model.json from its
// shards. Integer constants (graph plumbing) are skipped.
func readWeights(dir string) (map[string]tensor, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		return nil, fmt.Errorf("read model.json: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode model.json: %w", err)
	}
	if len(m.WeightsManifest) == 0 {
		return nil, fmt.Errorf("decode model.json: no weights manifest")
	}
	out := make(map[string]tensor)
	for _, group := range m.WeightsManifest {
		var buf []byte
		for _, p := range group.Paths {
			if strings.Contains(p, "/") || strings.Contains(p, `\`) {
				return nil, fmt.Errorf("decode model.json: shard path %q leaves the model folder", p)
			}
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				return nil, fmt.Errorf("read weight shard: %w", err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range group.Weights {
			n := 1
			for _, d := range w.Shape {
				if d < 0 {
					return nil, fmt.Errorf("decode model.json: weight %s has negative dimension", w.Name)
				}
				if d > 0 && n > len(buf)/d { // n*d cannot fit, and must not overflow
					return nil, fmt.Errorf("read weights: shards of %d bytes cannot hold weight %s of shape %v", len(buf), w.Name, w.Shape)
				}
				n *= d
			}
			size := 4 * n // float32 and int32 are both 4 bytes
			if w.DType != "float32" && w.DType != "int32" {
				return nil, fmt.Errorf("decode model.json: weight %s has unsupported dtype %s", w.Name, w.DType)
			}
			if off+size > len(buf) {
				return nil, fmt.Errorf("read weights: shards end before weight %s (%d of %d bytes)", w.Name, len(buf), off+size)
			}
			if w.DType == "float32" {
				data := make([]float32, n)
				for i := range data {
					data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[off+4*i:]))
				}
				out[w.Name] = tensor{shape: w.Shape, data: data}
			}
			off += size
		}
		if off != len(buf) {
			return nil, fmt.Errorf("read weights: shards hold %d bytes, manifest describes %d", len(buf), off)
		}
	}
	return out, nil
}
