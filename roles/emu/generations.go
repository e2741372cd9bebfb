package emu

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
)

// Generations says which generations of the index are live and opens the
// embedder and the vector store of one. Emu reads the live ones for every
// batch, so a change committed after a generation was created reaches it.
type Generations interface {
	Live(ctx context.Context) ([]generations.Generation, error)
	Open(ctx context.Context, g generations.Generation) (Embedder, Store, error)
}

// target is one generation emu writes: its embedder and its store.
type target struct {
	e     *Emu
	name  string
	emb   Embedder
	store Store
	// guard checks in every write transaction that the generation is not
	// being dropped (dynamic generations only).
	guard bool
}

// openFailure remembers a generation this worker could not open, so that a
// missing model or credential is not retried for every batch.
type openFailure struct {
	err error
	at  time.Time
}

// retryOpenAfter is how long a generation that failed to open is left
// before trying again.
const retryOpenAfter = 10 * time.Second

// unservedError says this worker cannot write a live generation: it lacks
// the embedder or the store. Its messages are released for a worker that
// can, never acknowledged.
type unservedError struct {
	gen string
	err error
}

func (u unservedError) Error() string {
	return fmt.Sprintf("this worker cannot write live generation %s: %v", u.gen, u.err)
}
func (u unservedError) Unwrap() error { return u.err }

// generationTargets holds the targets opened so far by name.
type generationTargets struct {
	mu     sync.Mutex
	open   map[string]*target
	failed map[string]openFailure
}

// targets returns a target for every live generation, opening the ones not
// opened yet. It fails with an unservedError when one cannot be opened here.
func (e *Emu) targets(ctx context.Context) ([]*target, error) {
	if e.gens == nil {
		return []*target{e.static}, nil
	}
	live, err := e.gens.Live(ctx)
	if err != nil {
		return nil, err
	}
	e.gt.mu.Lock()
	defer e.gt.mu.Unlock()
	out := make([]*target, 0, len(live))
	var unserved error
	keep := make(map[string]bool, len(live))
	for _, g := range live {
		keep[g.Name+"@"+g.CreatedAt.String()] = true
	}
	for key := range e.gt.open {
		if !keep[key] {
			delete(e.gt.open, key) // dropped
		}
	}
	for _, g := range live {
		key := g.Name + "@" + g.CreatedAt.String()
		if t := e.gt.open[key]; t != nil {
			out = append(out, t)
			continue
		}
		if f, ok := e.gt.failed[g.Name]; ok && time.Since(f.at) < retryOpenAfter {
			unserved = unservedError{g.Name, f.err}
			continue
		}
		t, err := e.openTarget(ctx, g)
		if err != nil {
			e.gt.failed[g.Name] = openFailure{err, time.Now()}
			e.m.unserved.Set(1)
			e.log.ErrorContext(ctx, "cannot write a live index generation: receiving nothing until a worker that can is started, or the generation is dropped",
				"generation", g.Name, "embedder", g.Embedder, "store", g.StoreTarget(), "err", err)
			unserved = unservedError{g.Name, err}
			continue
		}
		delete(e.gt.failed, g.Name)
		e.gt.open[key] = t
		out = append(out, t)
	}
	if unserved != nil {
		return nil, unserved
	}
	e.m.unserved.Set(0)
	e.m.generations.Set(float64(len(out)))
	return out, nil
}

func (e *Emu) openTarget(ctx context.Context, g generations.Generation) (*target, error) {
	emb, store, err := e.gens.Open(ctx, g)
	if err != nil {
		return nil, err
	}
	t := &target{e: e, name: g.Name, emb: emb, store: store, guard: true}
	// The store was opened, which creates its index: pelicans waiting to
	// send to this generation may go on.
	if err := indexstate.New(e.pool, g.Name).Register(ctx, store.Name()); err != nil {
		return nil, err
	}
	e.log.InfoContext(ctx, "writing index generation", "generation", g.Name, "model", emb.Model(), "state", g.State,
		"store", store.Name())
	if bi, ok := store.(BulkIndexer); ok && e.cfg.BulkThreshold > 0 && e.runCtx != nil {
		e.bg.Go(func() { e.watchBulk(e.runCtx, t, bi) })
	}
	return t, nil
}

// watchGenerations opens new generations as soon as they are created, so
// their models are loaded before their first batch, and reports the ones
// this worker cannot write.
func (e *Emu) watchGenerations(ctx context.Context) {
	generations.Watch(ctx, e.pool, e.cfg.GenerationsPoll, e.log, func(ctx context.Context) {
		if _, err := e.targets(ctx); err != nil && ctx.Err() == nil {
			e.log.DebugContext(ctx, "reload index generations", "err", err)
		}
	})
}

// servable reports whether this worker can write every live generation;
// a worker that cannot receives nothing, so that it neither acknowledges
// what it cannot do nor uses up the receives of messages another worker
// can handle.
func (e *Emu) servable(ctx context.Context) bool {
	if e.gens == nil {
		return true
	}
	_, err := e.targets(ctx)
	return err == nil
}

// only returns the items of a batch that concern t.
func only(items []*item, t *target) []*item {
	var out []*item
	for _, it := range items {
		if it.gens == nil || it.gens[t.name] {
			out = append(out, it)
		}
	}
	return out
}
