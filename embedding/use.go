package embedding

import (
	"context"

	"github.com/refarch/refarch/embedding/use"
)

// openUse loads the in-process Universal Sentence Encoder Lite model from
// o.ModelDir, or from use.DefaultDir when that is empty.
func openUse(_ context.Context, o Options) (Embedder, error) {
	dir := o.ModelDir
	if dir == "" {
		dir = use.DefaultDir()
	}
	m, err := use.Load(dir)
	if err != nil {
		return nil, err
	}
	return m, nil
}
