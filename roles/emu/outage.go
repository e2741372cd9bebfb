package emu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/vectorstore"
)

// componentError is a failure of the vector store or the embedder as a
// whole. wide says it is known to hit every product (the store is
// unavailable, the embedder and its probe both fail); other component
// errors (rate limits) become an outage only when they persist.
type componentError struct {
	t         *target
	component string
	wide      bool
	err       error
}

func (c componentError) Error() string { return c.err.Error() }
func (c componentError) Unwrap() error { return c.err }

// outageAfter is how many failed attempts in a row of a batch make a
// transient component error an outage worth reporting.
const outageAfter = 3

// outages tracks which components this emu currently sees down, so that an
// outage is logged once when it starts and once when it ends.
type outages struct {
	mu sync.Mutex
	// state per component: absent (unknown: a previous process may have
	// left an outage recorded), true (down) or false (known up).
	down map[string]bool
}

// outage notes that component is down: logged when it starts, recorded for
// status (refreshed on every call), and set in the gauge.
func (e *Emu) outage(ctx context.Context, gen, component string, err error) {
	key := gen + "/" + component
	e.out.mu.Lock()
	started := !e.out.down[key]
	e.out.down[key] = true
	e.out.mu.Unlock()
	if started {
		e.log.ErrorContext(ctx, "outage: holding messages until it heals", "component", component, "generation", gen, "err", err)
	}
	e.m.outage.WithLabelValues(component).Set(1)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := indexstate.New(e.pool, gen).RecordOutage(rctx, component, err.Error()); err != nil {
		e.log.WarnContext(ctx, "record outage", "component", component, "err", err)
	}
}

// healed notes that component served a call. It costs a map lookup unless
// an outage is (or may be) recorded.
func (e *Emu) healed(ctx context.Context, gen, component string) {
	key := gen + "/" + component
	e.out.mu.Lock()
	down, known := e.out.down[key]
	e.out.down[key] = false
	e.out.mu.Unlock()
	if known && !down {
		return
	}
	if down {
		e.log.InfoContext(ctx, "outage over", "component", component)
	}
	e.m.outage.WithLabelValues(component).Set(0)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := indexstate.New(e.pool, gen).EndOutage(rctx, component); err != nil {
		e.log.WarnContext(ctx, "record end of outage", "component", component, "err", err)
		e.out.mu.Lock()
		delete(e.out.down, key) // try again on the next success
		e.out.mu.Unlock()
	}
}

// probeStore asks the store a cheap question to tell a store that is down
// (every product fails) from one that refuses particular products.
func (t *target) probeStore(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := t.store.Count(pctx); err != nil {
		return fmt.Errorf("probe vector store %s: %w", t.store.Name(), err)
	}
	return nil
}

// transientEmbedError reports whether an embedding error says nothing about
// the text: timeouts, rate limits, server errors, refused connections.
func transientEmbedError(err error) bool {
	var ne net.Error
	return errors.Is(err, embedding.ErrTransient) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}

// unavailableStoreError reports whether a store error is about the store as
// a whole.
func unavailableStoreError(err error) bool { return errors.Is(err, vectorstore.ErrUnavailable) }
