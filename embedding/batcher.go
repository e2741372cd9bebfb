package embedding

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBatcherClosed is returned by a Batcher's Embed after Close.
var ErrBatcherClosed = errors.New("embedding batcher is closed")

// Defaults of BatchOptions.
const (
	DefaultBatchWait     = 2 * time.Millisecond
	DefaultBatchMaxTexts = 64
)

// BatchOptions bound how long a call waits for company and how many texts
// one shared call holds.
type BatchOptions struct {
	// Wait is the longest a call waits for others to share its forward
	// pass, counted from its arrival (default 2 ms).
	Wait time.Duration
	// MaxTexts closes a batch early once it holds this many texts
	// (default 64, the use model's chunk); a call with more texts than
	// this is not batched.
	MaxTexts int
}

func (o BatchOptions) withDefaults() BatchOptions {
	if o.Wait <= 0 {
		o.Wait = DefaultBatchWait
	}
	if o.MaxTexts <= 0 {
		o.MaxTexts = DefaultBatchMaxTexts
	}
	return o
}

// Batcher is an Embedder that lets concurrent calls share one call of the
// embedder it wraps (micro-batching). A forward pass of the in-process
// model reads all of its weights (some 18 MB) whatever the number of texts,
// so eight searches embedded in one pass cost little more than one. A call
// waits at most Wait for others to join it; while a pass runs, the calls
// that arrive meanwhile gather for the next one, so there is at most one
// pass in flight and it uses every core. Each call gets exactly the vectors
// an unbatched call would, since every text is embedded on its own rows.
//
// One Batcher wraps one embedder instance (one model): calls to another
// model need their own. Close stops it.
type Batcher struct {
	emb  Embedder
	o    BatchOptions
	reqs chan *batchCall
	// stop is closed by Close: it ends the loop and any pass in flight.
	stop chan struct{}
	done chan struct{}
	once sync.Once

	passes, texts atomic.Int64
	calls         atomic.Int64 // calls made to Embed, for tests
}

type batchCall struct {
	ctx   context.Context
	texts []string
	at    time.Time
	res   chan batchResult // buffered: the loop never blocks on a caller
}

type batchResult struct {
	vecs [][]float32
	err  error
}

var _ Embedder = (*Batcher)(nil)

// NewBatcher starts batching calls to e.
func NewBatcher(e Embedder, o BatchOptions) *Batcher {
	b := &Batcher{emb: e, o: o.withDefaults(), reqs: make(chan *batchCall), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// Model is the wrapped embedder's model.
func (b *Batcher) Model() string { return b.emb.Model() }

// Dimension is the wrapped embedder's dimension.
func (b *Batcher) Dimension() int { return b.emb.Dimension() }

// MaxTokens is the wrapped embedder's limit.
func (b *Batcher) MaxTokens() int { return b.emb.MaxTokens() }

// Unwrap returns the wrapped embedder.
func (b *Batcher) Unwrap() Embedder { return b.emb }

// Stats returns how many shared calls were made and how many texts they
// held, so that callers can tell the batch size reached.
func (b *Batcher) Stats() (passes, texts int64) { return b.passes.Load(), b.texts.Load() }

// Embed embeds texts in a call shared with concurrent callers. It returns
// as soon as ctx is done, whatever the shared call does.
func (b *Batcher) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	b.calls.Add(1)
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	if len(texts) > b.o.MaxTexts {
		if b.closed() {
			return nil, ErrBatcherClosed
		}
		return b.emb.Embed(ctx, texts)
	}
	c := &batchCall{ctx: ctx, texts: texts, at: time.Now(), res: make(chan batchResult, 1)}
	select {
	case b.reqs <- c:
	case <-ctx.Done():
		return nil, fmt.Errorf("embed %d texts: %w", len(texts), ctx.Err())
	case <-b.done:
		return nil, ErrBatcherClosed
	}
	select {
	case r := <-c.res:
		return r.vecs, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("embed %d texts: %w", len(texts), ctx.Err())
	}
}

// Close stops the batcher: a pass in flight is cancelled, its callers and
// any later ones get ErrBatcherClosed. It waits for the batching goroutine
// to end; the wrapped embedder is not closed.
func (b *Batcher) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return nil
}

func (b *Batcher) closed() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

func (b *Batcher) loop() {
	defer close(b.done)
	for {
		var first *batchCall
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		batch, n := []*batchCall{first}, len(first.texts)
		deadline := time.NewTimer(time.Until(first.at.Add(b.o.Wait)))
	gather:
		for n < b.o.MaxTexts {
			select {
			case c := <-b.reqs:
				batch, n = append(batch, c), n+len(c.texts)
				continue
			default:
			}
			// Nothing waiting: calls that queued during the last pass are
			// already in; wait for more until the first call's time is up.
			select {
			case c := <-b.reqs:
				batch, n = append(batch, c), n+len(c.texts)
			case <-deadline.C:
				break gather
			case <-b.stop:
				deadline.Stop()
				answer(batch, nil, ErrBatcherClosed)
				return
			}
		}
		deadline.Stop()
		b.run(batch)
	}
}

// run embeds a batch in one call. Callers that gave up are left out; the
// call is cancelled when every caller has given up, or on Close. When the
// shared call fails for another reason, each caller's texts are embedded
// on their own, so that one text the embedder refuses fails only its call.
func (b *Batcher) run(batch []*batchCall) {
	live := batch[:0]
	for _, c := range batch {
		if c.ctx.Err() == nil {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return
	}
	// The pass carries the first caller's values but none of the callers'
	// deadlines: it ends when all of them gave up, or on Close.
	ctx, cancel := context.WithCancel(context.WithoutCancel(live[0].ctx))
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var waiting atomic.Int64
	waiting.Store(int64(len(live)))
	for _, c := range live {
		stop := context.AfterFunc(c.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	var texts []string
	for _, c := range live {
		texts = append(texts, c.texts...)
	}
	b.passes.Add(1)
	b.texts.Add(int64(len(texts)))
	vecs, err := b.emb.Embed(ctx, texts)
	if err == nil && len(vecs) != len(texts) {
		err = fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	switch {
	case err == nil:
		for _, c := range live {
			c.res <- batchResult{vecs: vecs[:len(c.texts):len(c.texts)]}
			vecs = vecs[len(c.texts):]
		}
	case b.closed():
		answer(live, nil, ErrBatcherClosed)
	case len(live) == 1 || ctx.Err() != nil:
		answer(live, nil, err)
	default:
		for _, c := range live {
			if c.ctx.Err() != nil {
				continue
			}
			v, err := b.emb.Embed(c.ctx, c.texts)
			c.res <- batchResult{vecs: v, err: err}
		}
	}
}

func answer(batch []*batchCall, vecs [][]float32, err error) {
	for _, c := range batch {
		c.res <- batchResult{vecs: vecs, err: err}
	}
}
