package pipelinetest

import (
	"context"
	"testing"
	"time"

	"github.com/refarch/refarch/catalog"
)

// startupPassDone is a waitFor condition: a catch-up pass of the model is
// closed (on an empty table it has no chunks).
func (e *env) startupPassDone(ctx context.Context) func() string {
	return func() string {
		var done bool
		if err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM catchup_passes WHERE model = $1 AND finished_at IS NOT NULL)`, e.model).Scan(&done); err != nil {
			return err.Error()
		}
		if !done {
			return "no catch-up pass finished"
		}
		return ""
	}
}

// sentOnce fails t unless every product of the table was sent exactly once
// through r.
func (e *env) sentOnce(ctx context.Context, r *recordingQueue, want int) {
	e.t.Helper()
	sent := sentTotals(r)
	twice := 0
	for _, n := range sent {
		if n > 1 {
			twice++
		}
	}
	if len(sent) != want || twice > 0 {
		e.t.Fatalf("sent %d distinct product versions for %d products, %d of them more than once", len(sent), want, twice)
	}
}

// A bootstrap enqueues each product once (G8, issue 12): a seed into an
// empty index writes no outbox row per product but records its id ranges,
// which the catch-up sends on the backfill lane, whether the seed ran
// before pelican started (the start-up pass covers it) or while it runs (a
// pass of the seed's ranges). Concurrent seed workers interleave their ids,
// so their ranges overlap.
func TestBulkLoadIsEnqueuedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 6000
	for _, tc := range []struct {
		name   string
		before bool
	}{{"seed then pelican", true}, {"seed while pelican runs", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			rec := newRecorder(e.q)
			seed := func() {
				got, err := catalog.Seed(ctx, e.pool, catalog.SeedOptions{Count: n, Workers: 3})
				if err != nil || got != n {
					t.Fatalf("seed: %d, %v", got, err)
				}
				var outbox int
				if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM sync_outbox`).Scan(&outbox); err != nil || outbox != 0 {
					t.Fatalf("the seed wrote %d outbox rows (%v), want none", outbox, err)
				}
				// The status counters agree: no outbox row to wait for.
				if st := e.status(ctx); st.Outbox != 0 || st.Products < n {
					t.Fatalf("status after the seed: %+v, want %d products and an empty outbox", st, n)
				}
			}
			if tc.before {
				seed()
			}
			e.startEmu(e.emuConfig(), nil, nil, nil)
			e.startPelican(e.pelicanConfig(), rec)
			if !tc.before {
				waitFor(t, 30*time.Second, e.startupPassDone(ctx))
				seed()
			}
			e.converged(ctx, 120*time.Second)
			e.sentOnce(ctx, rec, n)
			// A message per chunk of the catch-up (100 ids), not per
			// product: concurrent seed workers' ranges interleave, so a
			// pass of ranges may cut a few more chunks.
			rec.mu.Lock()
			msgs := rec.messages
			rec.mu.Unlock()
			if msgs > 2*n/e.pelicanConfig().BatchSize {
				t.Fatalf("the bootstrap of %d products sent %d messages, want about one per chunk of %d", n, msgs, e.pelicanConfig().BatchSize)
			}
			if d := e.laneDepth(ctx, "live"); d.Visible+d.InFlight+d.Dead != 0 {
				t.Fatalf("live lane %+v, want it untouched by the bulk load", d)
			}
		})
	}
}

// Statements under the bulk threshold still go through the outbox and the
// live lane, one message per product.
func TestSmallInsertsUseTheOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, nil, nil)
	rec := newRecorder(e.q)
	e.startPelican(e.pelicanConfig(), rec)
	waitFor(t, 30*time.Second, e.startupPassDone(ctx))
	for range 3 {
		e.insert(ctx, 999, "small")
	}
	e.converged(ctx, 60*time.Second)
	e.sentOnce(ctx, rec, 3*999)
	var ranges int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM backfill_ranges`).Scan(&ranges); err != nil || ranges != 0 {
		t.Fatalf("%d bulk-load ranges (%v), want none", ranges, err)
	}
}
