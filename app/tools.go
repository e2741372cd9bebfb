package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/migrations"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/reconcile"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// tools is what the operator commands (status, dlq, reconcile) need.
type tools struct {
	pool *pgxpool.Pool
	q    queue.Queue
	emb  embedding.Info // the active generation's name and dimension; no model is loaded
	// active is the active generation (the first one is created from the
	// configuration on an empty database).
	active generations.Generation
	close  func()
}

func openTools(ctx context.Context, cfg Config) (*tools, error) {
	// Queue and embedder settings are checked as for pelican, which needs
	// the same two.
	if err := cfg.Validate(Roles{Pelican: true}); err != nil {
		return nil, err
	}
	pool, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := migrations.Check(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	active, err := activeGeneration(ctx, cfg, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	emb := embedding.Info{Model: active.Name, Dimension: active.Dims}
	q, closeQueue, err := OpenQueue(ctx, cfg, pool, slog.New(slog.DiscardHandler))
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &tools{pool: pool, q: q, emb: emb, active: active, close: func() { closeQueue(); pool.Close() }}, nil
}

// countingWait bounds how long `refarch status` waits for the counts of a
// new index to start.
const countingWait = 2 * time.Minute

// Status computes `refarch status`. While it waits for the counts of a new
// index, it says so on progress once (nil: silently).
func Status(ctx context.Context, cfg Config, progress io.Writer) (status.Status, error) {
	t, err := openTools(ctx, cfg)
	if err != nil {
		return status.Status{}, err
	}
	defer t.close()
	s, err := status.Get(ctx, t.pool, t.q, t.emb.Model)
	// A new index over a large catalog is being counted (seconds, once):
	// wait for the figures, for up to countingWait, folding here too (when
	// this role may), so that the wait does not depend on a serve or emu
	// running.
	if errors.Is(err, status.ErrCounting) && progress != nil {
		fmt.Fprintf(progress, "counting the catalog for the status of the new index %s (one scan of the table, once)...\n", t.emb.Model)
	}
	for deadline := time.Now().Add(countingWait); errors.Is(err, status.ErrCounting) && time.Now().Before(deadline); {
		indexstate.Fold(ctx, t.pool, 0) //nolint:errcheck // serve's and emu's folds count it too
		select {
		case <-ctx.Done():
			return status.Status{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		s, err = status.Get(ctx, t.pool, t.q, t.emb.Model)
	}
	if err != nil {
		return s, err
	}
	if t.active.Store == generations.StorePgvector {
		p, err := pgvectorstore.ReadIndexProgress(ctx, t.pool, t.active.Target)
		if err != nil {
			return s, err
		}
		s.SearchIndex = &p
	}
	return s, nil
}

// Redrive moves dead-lettered messages back to the queue.
func Redrive(ctx context.Context, cfg Config) (int, error) {
	t, err := openTools(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer t.close()
	n, err := t.q.Redrive(ctx)
	if err != nil {
		return n, fmt.Errorf("redrive dead letters: %w", err)
	}
	return n, nil
}

// DeadLetters lists the products emu gave up on and the queue's depth.
func DeadLetters(ctx context.Context, cfg Config, limit int) ([]status.Failure, queue.Depth, error) {
	t, err := openTools(ctx, cfg)
	if err != nil {
		return nil, queue.Depth{}, err
	}
	defer t.close()
	fs, err := status.Failures(ctx, t.pool, t.emb.Model, limit)
	if err != nil {
		return nil, queue.Depth{}, err
	}
	d, err := t.q.Depth(ctx)
	if err != nil {
		return nil, queue.Depth{}, fmt.Errorf("read queue depth: %w", err)
	}
	return fs, d, nil
}

// Reconcile compares the table, index_state and the vector store, and with
// repair enqueues fixes.
func Reconcile(ctx context.Context, cfg Config, repair bool, progress func(reconcile.Progress)) (reconcile.Report, error) {
	if err := cfg.Validate(Roles{Emu: true}); err != nil {
		return reconcile.Report{}, err
	}
	t, err := openTools(ctx, cfg)
	if err != nil {
		return reconcile.Report{}, err
	}
	defer t.close()
	store, err := openGenerationStore(ctx, cfg, t.pool, t.active, slog.New(slog.DiscardHandler))
	if err != nil {
		return reconcile.Report{}, err
	}
	defer store.Close()
	return reconcile.Run(ctx, indexstate.New(t.pool, t.emb.Model), store, t.q, repair, 1000, progress)
}
