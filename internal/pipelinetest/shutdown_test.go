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
// timeout, and counts no receive against them beyond the one that took
// them: a receive under way in another slot as the shutdown began must not
// take them again. Several shutdowns in a row, then a new emu indexes them.
func TestEmuShutdownReleasesInFlightBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const rounds = 5
	e := newEnvReceives(t, rounds+2)
	e.startPelican(e.pelicanConfig(), nil)
	// Inserted after the start-up catch-up, which would otherwise also
	// send a range holding products whose live message is not indexed yet.
	waitFor(t, 30*time.Second, e.startupPassDone(ctx))
	cfg := e.emuConfig()
	cfg.Visibility = 10 * time.Minute
	cfg.Concurrency = 4 // 17 receivers polling as the shutdown begins
	e.insert(ctx, 10, "shutdown")
	for round := 1; round <= rounds; round++ {
		stuck := e.startEmu(cfg, nil, hangingEmbedder{e.emb}, nil)
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
			t.Fatalf("round %d: after shutdown the queue is %+v (%v), want the 10 messages visible again", round, d, err)
		}
		var lo, hi int
		if err := e.pool.QueryRow(ctx, `SELECT min(receive_count), max(receive_count) FROM queue_messages`).Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
		if lo != round || hi != round {
			t.Fatalf("round %d: receive counts %d to %d, want %d: a shutdown took messages again", round, lo, hi, round)
		}
	}
	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.converged(ctx, 30*time.Second)
}
