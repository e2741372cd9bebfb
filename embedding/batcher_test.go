package embedding

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// gated wraps an embedder: each call blocks until the test lets it go, so
// that the test decides what arrives while a pass is in flight.
type gated struct {
	Embedder
	started chan []string
	release chan struct{}
	refuse  string // a text the embedder rejects
}

func newGated(e Embedder) *gated {
	return &gated{Embedder: e, started: make(chan []string, 100), release: make(chan struct{})}
}

func (g *gated) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	g.started <- slices.Clone(texts)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.refuse != "" && slices.Contains(texts, g.refuse) {
		return nil, fmt.Errorf("text %q refused", g.refuse)
	}
	return g.Embedder.Embed(ctx, texts)
}

type embedResult struct {
	vecs [][]float32
	err  error
}

func embedAsync(ctx context.Context, b *Batcher, texts ...string) chan embedResult {
	ch := make(chan embedResult, 1)
	go func() {
		v, err := b.Embed(ctx, texts)
		ch <- embedResult{v, err}
	}()
	return ch
}

// Calls that arrive while a pass runs share the next one, and each gets
// its own texts' vectors back, in order.
func TestBatcherSharesOnePassAmongWaitingCalls(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hash := NewHash(16)
	g := newGated(hash)
	// A long wait: the calls held behind the first pass must all make the
	// second, however slowly the machine runs their goroutines.
	b := NewBatcher(g, BatchOptions{Wait: 200 * time.Millisecond})
	defer b.Close()

	ctx := context.Background()
	first := embedAsync(ctx, b, "first")
	if got := <-g.started; !slices.Equal(got, []string{"first"}) {
		t.Fatalf("first pass embeds %q", got)
	}
	// Five calls arrive while the first pass is held.
	var later []chan embedResult
	var want []string
	for i := range 5 {
		texts := []string{fmt.Sprintf("call %d a", i), fmt.Sprintf("call %d b", i)}
		want = append(want, texts...)
		later = append(later, embedAsync(ctx, b, texts...))
	}
	waitFor(t, func() bool { return b.calls.Load() == 6 })
	g.release <- struct{}{}
	if r := <-first; r.err != nil || len(r.vecs) != 1 {
		t.Fatalf("first call: %v, %d vectors", r.err, len(r.vecs))
	}
	got := <-g.started
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("second pass embeds %q, want every waiting call's texts %q", got, want)
	}
	close(g.release)
	for i, ch := range later {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		direct, _ := hash.Embed(ctx, []string{fmt.Sprintf("call %d a", i), fmt.Sprintf("call %d b", i)})
		if !slices.EqualFunc(r.vecs, direct, slices.Equal) {
			t.Errorf("call %d got vectors that are not its texts'", i)
		}
	}
	if passes, texts := b.Stats(); passes != 2 || texts != 11 {
		t.Errorf("stats: %d passes of %d texts, want 2 of 11", passes, texts)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A caller that gives up returns at once with its context's error; the
// others in its pass still get their vectors, and a pass whose callers all
// gave up is cancelled.
func TestBatcherPropagatesCancellation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	g := newGated(NewHash(16))
	b := NewBatcher(g, BatchOptions{Wait: 50 * time.Millisecond})
	defer b.Close()

	ctx, cancel := context.WithCancel(context.Background())
	quitter := embedAsync(ctx, b, "quitter")
	stayer := embedAsync(context.Background(), b, "stayer")
	waitFor(t, func() bool { return len(g.started) == 1 })
	cancel()
	select {
	case r := <-quitter:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled call returned %v, want context.Canceled", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled call did not return while its pass was held")
	}
	close(g.release)
	if r := <-stayer; r.err != nil || len(r.vecs) != 1 {
		t.Fatalf("the other call of the pass: %v, %d vectors", r.err, len(r.vecs))
	}

	// Every caller of a pass gives up: the pass itself is cancelled.
	g2 := newGated(NewHash(16))
	b2 := NewBatcher(g2, BatchOptions{Wait: time.Millisecond})
	defer b2.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	one := embedAsync(ctx2, b2, "alone")
	<-g2.started
	cancel2()
	if r := <-one; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", r.err)
	}
	// The held pass returns (its context is cancelled), and the batcher
	// serves the next call.
	close(g2.release)
	if r := <-embedAsync(context.Background(), b2, "next"); r.err != nil {
		t.Fatalf("next call after a cancelled pass: %v", r.err)
	}
}

// One text the embedder refuses fails only its own call.
func TestBatcherIsolatesARefusedText(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	g := newGated(NewHash(16))
	g.refuse = "poison"
	b := NewBatcher(g, BatchOptions{Wait: 100 * time.Millisecond})
	defer b.Close()
	good := embedAsync(context.Background(), b, "good")
	bad := embedAsync(context.Background(), b, "poison")
	waitFor(t, func() bool { return len(g.started) == 1 })
	close(g.release)
	if r := <-good; r.err != nil || len(r.vecs) != 1 {
		t.Fatalf("good call: %v", r.err)
	}
	if r := <-bad; r.err == nil || !strings.Contains(r.err.Error(), "refused") {
		t.Fatalf("refused call: %v, want the embedder's error", r.err)
	}
}

// Close ends the batching goroutine (goleak), fails a pass in flight and
// every later call with ErrBatcherClosed, and can be called twice.
func TestBatcherStopsOnClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	g := newGated(NewHash(16))
	b := NewBatcher(g, BatchOptions{Wait: time.Millisecond})
	held := embedAsync(context.Background(), b, "held")
	<-g.started
	b.Close()
	if r := <-held; !errors.Is(r.err, ErrBatcherClosed) {
		t.Fatalf("call in flight at Close: %v, want ErrBatcherClosed", r.err)
	}
	if _, err := b.Embed(context.Background(), []string{"after"}); !errors.Is(err, ErrBatcherClosed) {
		t.Fatalf("call after Close: %v, want ErrBatcherClosed", err)
	}
	b.Close()
}

// Batched vectors are exactly the unbatched ones, bit for bit, with the
// real model: each text is embedded on its own rows of the pass.
func TestBatcherGivesUnbatchedVectors(t *testing.T) {
	e := semantic(t)
	b := NewBatcher(e, BatchOptions{Wait: 20 * time.Millisecond})
	defer b.Close()
	texts := []string{"something to keep my coffee hot", "shoes for running on trails", "AI", "",
		"a gift for someone who likes cooking and baking bread at home on weekends", "yoga mat", "garden tools",
		strings.Repeat("long text that is clipped to the model's limit ", 30)}
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([][]float32, len(texts))
	errs := make([]error, len(texts))
	for i, text := range texts {
		wg.Go(func() {
			v, err := b.Embed(ctx, []string{text})
			if err == nil {
				got[i] = v[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if passes, n := b.Stats(); passes >= int64(len(texts)) {
		t.Fatalf("%d passes for %d texts: nothing was batched", passes, n)
	}
	for i, text := range texts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		want, err := e.Embed(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[i], want[0]) {
			t.Errorf("text %d (%.30q): batched vector differs from the unbatched one", i, text)
		}
	}
}
