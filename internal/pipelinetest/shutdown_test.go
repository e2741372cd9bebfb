package pipelinetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refarch/refarch/embedding"
)

// hangingEmbedder never answers until its context is cancelled.
type hangingEmbedder struct{ embedding.Embedder }

func (hangingEmbedder) Embed(ctx context.Context, _ []string) ([][]float32, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// SIGTERM (cancelling Run's context) while a batch is in flight hands the
// messages back at once instead of leaving them hidden for the visibility
// timeout, and a new emu indexes them.
func TestEmuShutdownReleasesInFlightBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startPelican(e.pelicanConfig(), nil)
	cfg := e.emuConfig()
	cfg.Visibility = 10 * time.Minute
	stuck := e.startEmu(cfg, nil, hangingEmbedder{e.emb}, nil)
	e.insert(ctx, 10, "shutdown")
	waitFor(t, 30*time.Second, func() string {
		if d, _ := e.q.Depth(ctx); d.InFlight != 10 {
			return fmt.Sprintf("%+v", d)
		}
		return ""
	})
	if err := stuck.stop(); err != nil {
		t.Fatalf("emu stopped with %v", err)
	}
	if d, err := e.q.Depth(ctx); err != nil || d.InFlight != 0 || d.Visible != 10 {
		t.Fatalf("after shutdown the queue is %+v (%v), want the 10 messages visible again", d, err)
	}
	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.converged(ctx, 30*time.Second)
}
