// Package emu is the consumer role: workers receive batches of change
// messages, read the current rows, embed what changed and write the vector
// index, recording in index_state what the index now holds.
//
// Emu never trusts a message's copy of the record: it indexes the row as it
// is when the batch is processed, and writes only when that row is newer
// than what index_state records (G3), under a row lock on the index_state
// rows so that two workers holding the same product (a redelivery after a
// visibility timeout) cannot interleave their writes. A row whose embedded
// text did not change gets a metadata-only update and no embedding call (G5).
// Failures that hit everything (embedder or vector store down, rate limits)
// are retried with backoff while the messages are held; failures that hit
// one product are isolated and left to the queue's dead-letter policy (G6).
package emu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/internal/failpoint"
	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// Config tunes an Emu.
type Config struct {
	// Concurrency is the number of workers, each embedding one batch at a
	// time. Default 2.
	Concurrency int
	// Pipeline is how many batches each worker has in hand at once
	// (default 4): while one batch is embedded, the others are received,
	// written to the store and index_state, and acknowledged, so that the
	// queue's and the store's round trips overlap the embedding instead of
	// following it. Embedding calls stay at most Concurrency at once.
	Pipeline int
	// BatchSize is the most messages a worker receives at once. Default 64.
	BatchSize int
	// Visibility hides received messages from other workers; a heartbeat
	// extends it while a batch is worked on. Default 60 s.
	Visibility time.Duration
	// Wait is the long-poll time of one receive. Default 2 s.
	Wait time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential delays after
	// failures. Defaults 100 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// MaxReceives is the queue's dead-letter threshold; it is used only to
	// count messages given up on in the metrics. Default 5.
	MaxReceives int
	// DepthInterval is how often the queue depth gauge is refreshed.
	// Default 5 s; negative disables it.
	DepthInterval time.Duration
	// ReceiveBatch is the most messages one queue Receive call asks for.
	// When it is below BatchSize, a worker long-polls one call and, if that
	// comes back full, tops the batch up with ReceiveConcurrency calls in
	// parallel. Zero asks for BatchSize in one call (the Postgres queue);
	// 10 matches SQS's ReceiveMessage.
	ReceiveBatch int
	// ReceiveConcurrency bounds the top-up calls in flight. Default 8.
	ReceiveConcurrency int
	// BackfillMessages is the most messages a slot takes from the backfill
	// lane at once (a queue with lanes): each may be a range standing for
	// a chunk of products. Default 1.
	BackfillMessages int
	// BackfillBatch is how many products of a range one batch works.
	// Default BatchSize. Batches of 256 wrote a 200,000-product bootstrap 4%
	// faster than batches of 64, but made the edits made meanwhile wait
	// longer (p99 1,258 ms against 754 ms), their batches sharing the
	// database with the backfill's larger writes.
	BackfillBatch int
	// BulkThreshold is the queue backlog from which a store that is a
	// BulkIndexer has its search index deferred until the backlog drains
	// (see watchBulk). Zero disables bulk loads.
	BulkThreshold int
	// IndexBuildRetry is how long emu waits before trying a failed search
	// index build once more (default 30 s); after the second failure it
	// gives up until it restarts.
	IndexBuildRetry time.Duration
	// RecentWrites bounds the vectors kept for search's exact scan of
	// fresh writes (package recentvectors); zero values take its defaults.
	RecentWrites recentvectors.Options
	// GenerationsPoll is how often the index generations are reloaded when
	// no notification arrives (WithGenerations). Default 5 s.
	GenerationsPoll time.Duration
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.Pipeline <= 0 {
		c.Pipeline = 4
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.Visibility <= 0 {
		c.Visibility = 60 * time.Second
	}
	if c.Wait <= 0 {
		c.Wait = 2 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.MaxReceives <= 0 {
		c.MaxReceives = 5
	}
	if c.ReceiveConcurrency <= 0 {
		c.ReceiveConcurrency = 8
	}
	if c.BackfillMessages <= 0 {
		c.BackfillMessages = 1
	}
	if c.BackfillBatch <= 0 {
		c.BackfillBatch = c.BatchSize
	}
	if c.DepthInterval == 0 {
		c.DepthInterval = 5 * time.Second
	}
	if c.IndexBuildRetry <= 0 {
		c.IndexBuildRetry = 30 * time.Second
	}
	return c
}

// Emu is the consumer role.
type Emu struct {
	pool *pgxpool.Pool
	q    Queue
	// static is the one target of an emu built by New; gens replaces it
	// when set (WithGenerations), and gt holds what it opened.
	static *target
	gens   Generations
	gt     generationTargets
	// runCtx and bg run the per-store background work of targets opened
	// while emu runs.
	runCtx context.Context
	bg     sync.WaitGroup
	cfg    Config
	log    *slog.Logger
	m      metrics
	out    outages
	index  indexMetrics // only for a store that is a BulkIndexer
	// quota counts calls refused by a queue or store quota and says which
	// bound.
	quota *quota.Watch
	// embedding holds one token per embedding call in flight.
	embedding chan struct{}
	// claims keeps two batches from embedding one product at once.
	claims embedClaims
	// inHand bounds the batches received and not yet settled, across all
	// slots: each slot's receiver runs one batch ahead only while another
	// slot's place is free. Every message in hand when the process is
	// killed comes back with one more receive counted, so a process that
	// hoards batches pushes healthy messages toward the dead-letter queue.
	inHand chan struct{} // the live-only slot has its own, so an edit never waits for it
	// acks acknowledges settled messages in the background while Run runs;
	// without it (Handle called alone) they are acknowledged at once.
	acks *acker
	// receivers counts the slots' receivers still running; a shutdown
	// hands messages back only once it is zero (handBack).
	receivers sync.WaitGroup
}

type metrics struct {
	received, acked, dead, poison prometheus.Counter
	embedded, metaOnly, deleted   prometheus.Counter
	skipped                       prometheus.Counter
	failures                      *prometheus.CounterVec
	embedSeconds, writeSeconds    prometheus.Histogram
	batch, embedBatch             prometheus.Histogram
	batchSeconds                  prometheus.Histogram
	freshness                     prometheus.Histogram
	liveStages                    *prometheus.HistogramVec
	depth                         *prometheus.GaugeVec
	outage                        *prometheus.GaugeVec
	unserved, generations         prometheus.Gauge
	released                      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	f := promauto.With(reg)
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	sizes := prometheus.ExponentialBuckets(1, 2, 11)
	return metrics{
		received: counter("refarch_emu_messages_received_total", "Messages received from the queue."),
		acked:    counter("refarch_emu_messages_acked_total", "Messages acknowledged (indexed, or already up to date)."),
		dead:     counter("refarch_emu_messages_dead_total", "Messages given up on at their last allowed receive; the queue dead-letters them."),
		poison:   counter("refarch_emu_messages_failed_total", "Messages released after a failure of their own (undecodable, embedder or store rejects the product)."),
		embedded: counter("refarch_emu_products_embedded_total", "Products embedded and upserted."),
		metaOnly: counter("refarch_emu_products_metadata_only_total", "Products whose embedded text was unchanged: metadata updated, no embedding call."),
		deleted:  counter("refarch_emu_products_deleted_total", "Products deleted from the index."),
		skipped:  counter("refarch_emu_products_skipped_total", "Products skipped because the index already held their version or a newer one."),
		failures: f.NewCounterVec(prometheus.CounterOpts{Name: "refarch_emu_batch_failures_total",
			Help: "Batch attempts that failed and were retried with backoff, by stage."}, []string{"stage"}),
		embedSeconds: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_embed_seconds",
			Help: "Latency of one embedding call.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		writeSeconds: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_upsert_seconds",
			Help: "Latency of writing one batch to the vector store and index_state.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		batch: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_batch_size",
			Help: "Messages per received batch.", Buckets: sizes}),
		embedBatch: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_embed_batch_size",
			Help: "Texts per embedding call.", Buckets: sizes}),
		batchSeconds: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_batch_seconds",
			Help:    "Time from a batch's receipt to its last message settled (written, skipped or released); the visibility timeout must cover it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		freshness: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_freshness_seconds",
			Help:    "Time from a committed change (outbox changed_at) to its vector being written.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		liveStages: f.NewHistogramVec(prometheus.HistogramOpts{Name: "refarch_emu_live_stage_seconds",
			Help: "Where a committed change's time to its vector goes, by stage: to_queue (outbox to the queue: pelican), " +
				"queued (in the queue and waiting for a worker), worker (the worker's batch, to the write's commit); and the steps of " +
				"batches with a live change: worker_read (rows and index state), worker_embed (a turn at the embedder included), " +
				"worker_write (index locks, store write, commit).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"stage"}),
		depth: f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_queue_messages",
			Help: "Queue depth by state (visible, in_flight, dead)."}, []string{"state"}),
		outage: f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_emu_outage",
			Help: "1 while a component (vector_store, embedder) fails for every product and emu holds its messages."}, []string{"component"}),
		unserved: f.NewGauge(prometheus.GaugeOpts{Name: "refarch_emu_generation_unserved",
			Help: "1 while this worker cannot write a live index generation (it lacks the embedder or the store) and so receives nothing."}),
		generations: f.NewGauge(prometheus.GaugeOpts{Name: "refarch_emu_generations",
			Help: "Live index generations this worker writes every change to."}),
		released: counter("refarch_emu_messages_released_unserved_total",
			"Messages handed back because a live index generation appeared that this worker cannot write."),
	}
}

// New returns an emu; it does no I/O until Run.
func New(pool *pgxpool.Pool, q Queue, emb Embedder, store Store, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Emu {
	log = log.With("role", "emu")
	e := &Emu{pool: pool, q: q, cfg: cfg.withDefaults(),
		log: log, m: newMetrics(reg), out: outages{down: map[string]bool{}},
		quota: quota.NewWatch("refarch_emu_quota_throttled_total", log, reg),
		gt:    generationTargets{open: map[string]*target{}, failed: map[string]openFailure{}}}
	e.embedding = make(chan struct{}, e.cfg.Concurrency)
	e.inHand = make(chan struct{}, e.cfg.Concurrency*max(e.cfg.Pipeline, 2))
	if emb != nil {
		e.static = &target{e: e, name: emb.Model(), emb: emb, store: store}
	}
	if e.cfg.BulkThreshold > 0 {
		e.index = newIndexMetrics(reg)
	}
	return e
}

// WithGenerations makes emu write every live index generation that gens
// lists, instead of the one embedder and store given to New (pass nil
// there). It returns e.
func (e *Emu) WithGenerations(gens Generations) *Emu {
	e.gens, e.static = gens, nil
	return e
}

// Run starts the workers and blocks until ctx is cancelled. Workers then
// stop receiving, a batch in flight is finished or released, and the
// acknowledgements still pending are sent.
//
// A worker is Pipeline slots that each receive and work batches and take
// turns at the embedder: slots, not one loop per stage, because a batch's
// stages after embedding (the store write inside the index_state
// transaction, then the ack) wait on the network, and a slot that waits
// holds nothing the others need.
func (e *Emu) Run(ctx context.Context) error {
	e.runCtx = ctx
	defer e.bg.Wait()
	if e.gens == nil {
		if err := e.register(ctx); err != nil {
			return err
		}
		e.log.InfoContext(ctx, "emu started", "model", e.static.name, "store", e.static.store.Name(), "queue", e.q.Name(),
			"concurrency", e.cfg.Concurrency, "pipeline", e.cfg.Pipeline, "batch_size", e.cfg.BatchSize)
	} else {
		ts, err := e.targets(ctx)
		if err != nil && ctx.Err() != nil {
			return nil
		}
		e.log.InfoContext(ctx, "emu started", "generations", len(ts), "queue", e.q.Name(),
			"concurrency", e.cfg.Concurrency, "pipeline", e.cfg.Pipeline, "batch_size", e.cfg.BatchSize, "unserved", err)
	}
	acks, stopAcks := e.startAcker(ctx)
	e.acks = acks
	var slots, wg sync.WaitGroup
	if e.gens != nil {
		wg.Go(func() { e.watchGenerations(ctx) })
	}
	lr, live := e.q.(LiveReceiver)
	live = live && lr.Split()
	n := e.cfg.Concurrency * e.cfg.Pipeline
	if live {
		e.receivers.Add(n + 1)
	} else {
		e.receivers.Add(n)
	}
	for i := range n {
		slots.Go(func() { e.slot(ctx, i, e.receive, e.inHand) })
	}
	// One more slot takes live changes only: every other slot may hold a
	// backfill batch (and the next one) for a while, and an edit must not
	// wait for them.
	if live {
		slots.Go(func() {
			e.slot(ctx, e.cfg.Concurrency*e.cfg.Pipeline, func(ctx context.Context) ([]queue.Message, error) {
				return lr.ReceiveLive(ctx, e.cfg.BatchSize, e.cfg.Wait, e.cfg.Visibility)
			}, make(chan struct{}, 2))
		})
	}
	wg.Go(func() {
		slots.Wait()
		stopAcks()
	})
	if e.cfg.DepthInterval > 0 {
		wg.Go(func() { e.watchDepth(ctx) })
	}
	if e.static != nil {
		if bi, ok := e.static.store.(BulkIndexer); ok && e.cfg.BulkThreshold > 0 {
			wg.Go(func() { e.watchBulk(ctx, e.static, bi) })
		}
	}
	wg.Wait()
	return nil
}

// register records that the vector index for the model exists (the store
// was opened, which creates it), releasing pelicans waiting on IndexReady.
func (e *Emu) register(ctx context.Context) error {
	return indexstate.New(e.pool, e.static.name).Register(ctx, e.static.store.Name())
}

func (e *Emu) watchDepth(ctx context.Context) {
	t := time.NewTicker(e.cfg.DepthInterval)
	defer t.Stop()
	for {
		if d, err := e.q.Depth(ctx); err == nil {
			e.m.depth.WithLabelValues("visible").Set(float64(d.Visible))
			e.m.depth.WithLabelValues("in_flight").Set(float64(d.InFlight))
			e.m.depth.WithLabelValues("dead").Set(float64(d.Dead))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// slot receives batches with receive and handles them. Its receiver runs
// one batch ahead, under a heartbeat, so that the queue's round trips
// overlap the work on the previous batch, when inHand (shared by the slots
// it bounds, see Emu.inHand) has room for it. A live batch it receives
// while the slot works a batch of the backfill lane, which may take
// seconds (a range of products), it works itself, at once: handed on, the
// live change would wait behind the backfill (a loaded CI machine indexed
// such an edit 3 s late, after most of a new generation's backfill).
func (e *Emu) slot(ctx context.Context, n int, receive func(ctx context.Context) ([]queue.Message, error), inHand chan struct{}) {
	type held struct {
		msgs     []queue.Message
		hb       *heartbeat
		at       time.Time
		backfill bool
	}
	work := func(b held) {
		b.hb.end()
		e.handleSafely(ctx, b.msgs, n)
		<-inHand
		e.m.batchSeconds.Observe(time.Since(b.at).Seconds())
	}
	// backfillHeld counts the backfill batches handed to the handler and
	// not done; the receiver counts one before it hands it on, so that the
	// batch it receives next sees it.
	var backfillHeld atomic.Int32
	batches := make(chan held)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(batches)
		var unsent []queue.Message // received as the shutdown began
		defer func() {
			e.receivers.Done()
			e.handBack(ctx, unsent)
		}()
		failures := 0
		for ctx.Err() == nil {
			if !e.servable(ctx) {
				backoff.Sleep(ctx, e.cfg.Wait)
				continue
			}
			select {
			case inHand <- struct{}{}:
			case <-ctx.Done():
				return
			}
			msgs, err := receive(ctx)
			if len(msgs) == 0 || err != nil || ctx.Err() != nil {
				<-inHand
			}
			if ctx.Err() != nil {
				unsent = msgs
				return
			}
			if err != nil {
				failures++
				e.m.failures.WithLabelValues("receive").Inc()
				if !e.quota.Note(ctx, err) {
					e.log.ErrorContext(ctx, "receive messages", "err", err, "slot", n)
				}
				backoff.Sleep(ctx, backoff.Delay(failures, e.cfg.MinBackoff, e.cfg.MaxBackoff))
				continue
			}
			failures = 0
			if len(msgs) == 0 {
				continue
			}
			e.m.received.Add(float64(len(msgs)))
			e.m.batch.Observe(float64(len(msgs)))
			h := held{msgs, e.startHeartbeat(ctx, msgs), time.Now(), msgs[0].Lane == queue.LaneBackfill}
			e.markLastReceives(ctx, msgs)
			if !h.backfill && backfillHeld.Load() > 0 {
				work(h)
				continue
			}
			if h.backfill {
				backfillHeld.Add(1)
			}
			select {
			case batches <- h:
			case <-ctx.Done():
				if h.backfill {
					backfillHeld.Add(-1)
				}
				h.hb.end()
				unsent = msgs
				<-inHand
				return
			}
		}
	})
	for b := range batches {
		work(b)
		if b.backfill {
			backfillHeld.Add(-1)
		}
	}
	wg.Wait()
}

// receive fills one batch: a single call of BatchSize, or a long poll of
// ReceiveBatch topped up with concurrent calls that do not wait, when the
// first comes back full (there is a backlog). Top-up failures only make
// the batch smaller.
func (e *Emu) receive(ctx context.Context) ([]queue.Message, error) {
	recv := e.q.Receive
	if lr, ok := e.q.(LiveReceiver); ok && lr.Split() {
		recv = func(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error) {
			return lr.ReceiveMixed(ctx, max, e.cfg.BackfillMessages, wait, visibility)
		}
	}
	per := e.cfg.ReceiveBatch
	if per <= 0 || per >= e.cfg.BatchSize {
		return recv(ctx, e.cfg.BatchSize, e.cfg.Wait, e.cfg.Visibility)
	}
	first, err := recv(ctx, per, e.cfg.Wait, e.cfg.Visibility)
	if err != nil || len(first) < per {
		return first, err
	}
	need := e.cfg.BatchSize - len(first)
	calls := min(e.cfg.ReceiveConcurrency, (need+per-1)/per)
	got := make([][]queue.Message, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			msgs, err := recv(ctx, min(per, need-i*per), 0, e.cfg.Visibility)
			if err != nil && ctx.Err() == nil && !e.quota.Note(ctx, err) {
				e.log.WarnContext(ctx, "top up a batch", "err", err)
			}
			got[i] = msgs
		})
	}
	wg.Wait()
	for _, msgs := range got {
		first = append(first, msgs...)
	}
	return first, nil
}

// handleSafely runs Handle and turns a panic into a failure, logged with
// its stack, instead of a crash that would hand back and in the end
// dead-letter every batch in flight in the process. A batch of several
// products is then worked one product at a time, so that only the product
// that panics alone is released as failed (and dead-lettered at its last
// receive), like any poison.
func (e *Emu) handleSafely(ctx context.Context, msgs []queue.Message, worker int) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		items, ranges, bad := group(msgs)
		e.log.ErrorContext(ctx, "worker panicked", "slot", worker, "panic", fmt.Sprint(r),
			"stack", string(debug.Stack()), "products", len(items))
		for _, b := range bad {
			e.releaseFailed(ctx, b.msg)
		}
		for _, rm := range ranges {
			// Its products' panics are caught by workRange: this one
			// came from outside them.
			e.releaseFailed(ctx, rm.msg)
		}
		if len(items) == 1 {
			e.giveUp(ctx, items, fmt.Errorf("worker panicked: %v", r))
			return
		}
		for _, it := range items {
			e.handleSafely(ctx, it.msgs, worker)
		}
	}()
	e.Handle(ctx, msgs)
}

// release makes messages visible again after d (zero: at once). It runs
// with its own deadline because it is also called on shutdown.
func (e *Emu) release(ctx context.Context, msgs []queue.Message, d time.Duration) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	receipts := make([]string, len(msgs))
	for i, m := range msgs {
		receipts[i] = m.Receipt
	}
	if err := e.q.Extend(ctx, receipts, d); err != nil {
		// They become visible when their timeout expires anyway.
		e.log.WarnContext(ctx, "release messages", "err", err, "count", len(msgs))
	}
}

// handBack releases messages at once on shutdown, once no receiver of this
// worker is still running. A receive under way when the shutdown began runs
// to its end, and would take the messages again (counting one more receive
// against each) if they were visible by then; a worker whose receives race
// its own releases pushes healthy messages toward the dead-letter queue.
func (e *Emu) handBack(ctx context.Context, msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	e.receivers.Wait()
	e.release(ctx, msgs, 0)
}

// ack acknowledges messages whose products are indexed: in the background
// while Run runs, at once otherwise.
func (e *Emu) ack(ctx context.Context, msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	if e.acks != nil {
		e.acks.add(msgs)
		return
	}
	failpoint.Hit(failpoint.EmuBeforeAck)
	receipts := make([]string, len(msgs))
	for i, m := range msgs {
		receipts[i] = m.Receipt
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.q.Ack(ctx, receipts); err != nil {
		// Redelivery is harmless: the index already holds the version, so
		// the next delivery is skipped.
		e.log.WarnContext(ctx, "acknowledge messages", "err", err, "count", len(msgs))
		return
	}
	e.m.acked.Add(float64(len(msgs)))
}

// releaseFailed hands back a message that failed on its own, with a delay
// growing with its receive count. It reports whether the message reached
// the queue's receive limit, so that the next receive dead-letters it.
func (e *Emu) releaseFailed(ctx context.Context, m queue.Message) bool {
	e.m.poison.Inc()
	last := m.ReceiveCount >= e.cfg.MaxReceives
	if last {
		e.m.dead.Inc()
	}
	e.release(ctx, []queue.Message{m}, backoff.Delay(m.ReceiveCount, e.cfg.MinBackoff, e.cfg.Visibility))
	return last
}

// giveUp releases the messages of products that failed on their own and
// records the products whose messages are about to be dead-lettered.
func (e *Emu) giveUp(ctx context.Context, items []*item, why error) {
	for _, it := range items {
		if it.ranged {
			it.failed = why // its range is released (handleRange)
			continue
		}
		last := false
		for _, m := range it.msgs {
			e.log.WarnContext(ctx, "product failed on its own, released for retry", "product_id", it.id,
				"receive_count", m.ReceiveCount, "err", why)
			if e.releaseFailed(ctx, m) {
				last = true
			}
		}
		if last {
			e.recordFailure(ctx, it, why)
		}
	}
}

// recordFailure notes a product given up on, for status and the UI; the
// queue's own dead-letter listing may not be searchable by product (SQS).
func (e *Emu) recordFailure(ctx context.Context, it *item, why error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rc := 0
	for _, m := range it.msgs {
		rc = max(rc, m.ReceiveCount)
	}
	for _, name := range e.names(ctx, it) {
		err := indexstate.New(e.pool, name).Fail(ctx, indexstate.Failure{ProductID: it.id, Version: it.version,
			Error: why.Error(), ReceiveCount: rc})
		if err != nil {
			e.log.WarnContext(ctx, "record index failure", "product_id", it.id, "generation", name, "err", err)
		}
	}
}

// markLastReceives records a failure, as soon as they are received, for
// the products whose message is at its last allowed receive: if this
// attempt ends in a crash, an OOM kill or a shutdown hand-back (also while
// the batch waits for its slot), the queue dead-letters the message
// without emu recording anything, and status, the UI's badge and `dlq list`
// must still agree. Indexing the product clears the record; Handle marks
// such items (atLastReceive) so that one found up to date clears it too.
func (e *Emu) markLastReceives(ctx context.Context, msgs []queue.Message) {
	var last []queue.Message
	for _, m := range msgs {
		if m.ReceiveCount >= e.cfg.MaxReceives {
			last = append(last, m)
		}
	}
	if len(last) == 0 {
		return
	}
	items, _, _ := group(last)
	for _, it := range items {
		e.recordFailure(ctx, it, fmt.Errorf("message at its last allowed receive (%d) and not indexed yet: earlier receives failed, crashed or were handed back", e.cfg.MaxReceives))
	}
}

// atLastReceive sets marked on the items markLastReceives recorded.
func (e *Emu) atLastReceive(items []*item) {
	for _, it := range items {
		for _, m := range it.msgs {
			if m.ReceiveCount >= e.cfg.MaxReceives {
				it.marked = true
			}
		}
	}
}

// unmark clears the failures markLastReceives recorded for items that
// turned out to be up to date without a write (a write clears them itself).
func (e *Emu) unmark(ctx context.Context, items []*item) {
	var ids []int64
	for _, it := range items {
		if it.marked {
			ids = append(ids, it.id)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, name := range e.names(ctx, nil) {
		if err := indexstate.New(e.pool, name).ClearFailures(ctx, ids); err != nil {
			e.log.WarnContext(ctx, "clear index failures", "err", err, "products", len(ids))
		}
	}
}

// heartbeat extends the visibility of the messages it holds until stopped.
type heartbeat struct {
	mu   sync.Mutex
	held map[string]bool
	// extending is held while an extend is under way, from taking its
	// receipts to its answer: forget waits for it.
	extending sync.Mutex
	stop      chan struct{}
	done      chan struct{}
}

func (e *Emu) startHeartbeat(ctx context.Context, msgs []queue.Message) *heartbeat {
	h := &heartbeat{held: make(map[string]bool, len(msgs)), stop: make(chan struct{}), done: make(chan struct{})}
	for _, m := range msgs {
		h.held[m.Receipt] = true
	}
	go func() {
		defer close(h.done)
		t := time.NewTicker(max(e.cfg.Visibility/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			h.extend(ctx, e)
		}
	}()
	return h
}

// extend extends the visibility of the messages held, and is waited for to
// the end even when ctx ends (bounded by the visibility timeout): an
// extend the queue applied after the messages were handed back would hide
// them again for the visibility timeout, with nobody holding them.
func (h *heartbeat) extend(ctx context.Context, e *Emu) {
	h.extending.Lock()
	defer h.extending.Unlock()
	h.mu.Lock()
	receipts := make([]string, 0, len(h.held))
	for r := range h.held {
		receipts = append(receipts, r)
	}
	h.mu.Unlock()
	if len(receipts) == 0 {
		return
	}
	xctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Visibility)
	defer cancel()
	if err := e.q.Extend(xctx, receipts, e.cfg.Visibility); err != nil && ctx.Err() == nil {
		e.log.WarnContext(ctx, "extend visibility", "err", err, "count", len(receipts))
	}
}

// forget drops msgs and waits for an extend under way, which may name
// them: a release that follows is not undone by it.
func (h *heartbeat) forget(msgs []queue.Message) {
	h.drop(msgs)
	h.extending.Lock()
	h.extending.Unlock() //nolint:staticcheck // waiting is the point
}

func (h *heartbeat) dropItems(items []*item) { h.drop(messagesOf(items)) }

func (h *heartbeat) drop(msgs []queue.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		delete(h.held, m.Receipt)
	}
}

func (h *heartbeat) add(msgs []queue.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		h.held[m.Receipt] = true
	}
}

// end stops the heartbeat and waits for its extend under way, if any.
func (h *heartbeat) end() {
	close(h.stop)
	<-h.done
}

// Handle works one received batch to the end: every message is acked,
// released or (on shutdown) handed back.
func (e *Emu) Handle(ctx context.Context, msgs []queue.Message) {
	items, ranges, bad := group(msgs)
	now := time.Now()
	for _, it := range items {
		it.handled = now
	}
	targets, err := e.targets(ctx)
	if err != nil {
		// A generation appeared that this worker cannot write (or the
		// generations could not be read): hand everything back for a
		// worker that can; acknowledging would lose the change there.
		e.log.WarnContext(ctx, "handing a batch back: cannot write every live generation", "err", err, "messages", len(msgs))
		e.m.released.Add(float64(len(msgs)))
		e.release(ctx, msgs, e.cfg.Wait)
		return
	}
	for _, b := range bad {
		if errors.Is(b.err, queuemsg.ErrNewerVersion) {
			// Written by a newer release during a rolling deploy: not
			// broken, so handed back for a newer worker, not failed.
			e.log.InfoContext(ctx, "message from a newer release, handed back", "message_id", b.msg.ID, "err", b.err)
			e.release(ctx, []queue.Message{b.msg}, e.cfg.Wait)
			continue
		}
		e.log.ErrorContext(ctx, "undecodable message", "message_id", b.msg.ID, "receive_count", b.msg.ReceiveCount, "err", b.err)
		e.releaseFailed(ctx, b.msg)
	}
	e.atLastReceive(items)
	held := messagesOf(items)
	for _, rm := range ranges {
		held = append(held, rm.msg)
	}
	hb := e.startHeartbeat(ctx, held)
	defer hb.end()
	// Products named alone first: among them are the live changes.
	e.work(ctx, hb, targets, items)
	e.handleRanges(ctx, hb, targets, ranges)
}

// names lists the generations a failure of it is recorded under: the ones
// its messages name, or every live one (nil: every live one).
func (e *Emu) names(ctx context.Context, it *item) []string {
	ts, err := e.targets(ctx)
	if err != nil {
		ts = nil
		e.gt.mu.Lock()
		for _, t := range e.gt.open {
			ts = append(ts, t)
		}
		e.gt.mu.Unlock()
	}
	var out []string
	for _, t := range ts {
		if it == nil || it.gens == nil || it.gens[t.name] {
			out = append(out, t.name)
		}
	}
	return out
}

// process runs one attempt over items in every target that concerns them.
// An item is done when every target is done with it; one target's poison
// or retry holds it (the others skip it next time: they hold its version).
func (e *Emu) process(ctx context.Context, targets []*target, items []*item) (result, error) {
	var res result
	retry, poison := map[*item]bool{}, map[*item]bool{}
	var firstErr error
	for _, t := range targets {
		its := only(items, t)
		if len(its) == 0 {
			continue
		}
		r, err := t.process(ctx, its)
		res.stored = res.stored || r.stored
		res.wait = append(res.wait, r.wait...)
		for _, it := range r.retry {
			retry[it] = true
		}
		for _, it := range r.poison {
			poison[it] = true
		}
		if r.poisonErr != nil {
			res.poisonErr = r.poisonErr
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, it := range items {
		switch {
		case poison[it]:
			res.poison = append(res.poison, it)
		case retry[it]:
			res.retry = append(res.retry, it)
		default:
			res.done = append(res.done, it)
		}
	}
	return res, firstErr
}

// work processes items until each is done or given up on, retrying whole
// batch failures with backoff while holding the messages. An outage (the
// store or the embedder fails for every product) is held the same way, for
// as long as it lasts: no product is to blame, so none is dead-lettered.
func (e *Emu) work(ctx context.Context, hb *heartbeat, targets []*target, items []*item) {
	// shutDown hands the items still to do back to the queue.
	shutDown := func() {
		msgs := messagesOf(items)
		hb.forget(msgs)
		e.handBack(ctx, msgs)
	}
	failures := 0
	var held error // the last attempt's error, while backing off
	for len(items) > 0 {
		res, err := e.process(ctx, targets, items)
		e.settle(ctx, hb, res)
		items = res.retry
		if len(items) == 0 {
			return
		}
		if ctx.Err() != nil {
			shutDown()
			return
		}
		if err == nil {
			// Only conflicts (replan at once) and products another batch
			// is embedding (replan once it wrote them).
			waitAll(ctx, res.wait)
			continue
		}
		var split splitError
		var ce componentError
		if errors.As(err, &split) {
			if errors.As(held, &ce) && ce.component == indexstate.ComponentVectorStore {
				// Still down? Probe before writing every product alone again.
				if perr := ce.t.probeStore(ctx); perr != nil {
					err = componentError{ce.t, ce.component, true, fmt.Errorf("%w (and %w)", split.err, perr)}
				}
			}
		}
		if errors.As(err, &split) {
			// A store error that may be about one product: find it by
			// writing them one by one.
			e.log.WarnContext(ctx, "batch write failed, retrying products one by one", "err", err, "products", len(items))
			if items, err = e.isolate(ctx, hb, targets, items); len(items) == 0 {
				return
			}
			if err == nil {
				continue
			}
		}
		held = err
		failures++
		if errors.As(err, &ce) && (ce.wide || failures >= outageAfter) {
			e.outage(ctx, ce.t.name, ce.component, ce.err)
		}
		d := backoff.Delay(failures, e.cfg.MinBackoff, e.cfg.MaxBackoff)
		if !e.quota.Note(ctx, err) {
			e.log.WarnContext(ctx, "batch failed, backing off", "err", err, "products", len(items), "attempt", failures, "delay", d)
		}
		if !backoff.Sleep(ctx, d) {
			shutDown()
			return
		}
	}
}

// settle acknowledges what one attempt finished and gives up on the
// products that failed on their own.
func (e *Emu) settle(ctx context.Context, hb *heartbeat, res result) {
	e.ack(ctx, messagesOf(res.done)) // the acker's heartbeat takes them over
	hb.dropItems(res.done)
	e.unmark(ctx, res.done)
	hb.forget(messagesOf(res.poison))
	e.giveUp(ctx, res.poison, res.poisonErr)
}

// isolate writes items one at a time after their batch failed with a store
// error that may be about one of them. A product that fails alone while the
// store serves others, or answers a probe, is given up on. When no product
// could be written and the probe fails too, the store is down: the products
// come back with a wide componentError, to be held. Products that hit
// another error come back with it, to retry after a backoff.
func (e *Emu) isolate(ctx context.Context, hb *heartbeat, targets []*target, items []*item) ([]*item, error) {
	var again, alone []*item
	var againErr error
	why := map[*item]error{}
	served := false
	var splitIn *target // the target whose store failed
	for _, it := range items {
		res, err := e.process(ctx, targets, []*item{it})
		e.settle(ctx, hb, res)
		served = served || res.stored
		if len(res.retry) == 0 {
			continue
		}
		var split splitError
		if errors.As(err, &split) {
			alone = append(alone, it)
			why[it] = err
			splitIn = split.t
			continue
		}
		again = append(again, it)
		if err != nil {
			againErr = err
		}
	}
	if len(alone) == 0 {
		return again, againErr
	}
	if ctx.Err() != nil {
		return append(again, alone...), ctx.Err() // shutting down: blame nobody
	}
	if !served {
		if perr := splitIn.probeStore(ctx); perr != nil && ctx.Err() == nil {
			var split splitError
			errors.As(why[alone[0]], &split)
			err := componentError{splitIn, indexstate.ComponentVectorStore, true, fmt.Errorf("%w (and %w)", split.err, perr)}
			return append(again, alone...), err
		}
	}
	hb.forget(messagesOf(alone))
	for _, it := range alone {
		e.giveUp(ctx, []*item{it}, why[it])
	}
	return again, againErr
}

func messagesOf(items []*item) []queue.Message {
	var out []queue.Message
	for _, it := range items {
		out = append(out, it.msgs...)
	}
	return out
}

// item is one product of a batch with every message received for it.
type item struct {
	id      int64
	msgs    []queue.Message
	version int64    // the highest message version
	changes []change // its messages from the outbox: changes of the table
	// handled is when this worker began the batch (for
	// refarch_emu_live_stage_seconds).
	handled time.Time
	marked  bool // a failure was recorded at its last receive
	// recent is set when one of its messages is not a catch-up's (a change
	// of the table, or a repair): search keeps exact copies of those writes,
	// not of a bootstrap's (recordRecent).
	recent bool
	// gens are the generations its messages are for; nil when one of them
	// is a change of the table, for every live generation.
	gens map[string]bool
	// ranged is set for a product of a range message, which has no message
	// of its own (msgs is empty: the range is settled as a whole, see
	// handleRange); failed is why it failed on its own.
	ranged bool
	failed error
}

// change is when a change of the table was made (outbox changed_at) and
// when its message was sent (zero when the queue does not say).
type change struct{ at, sent time.Time }

type badMessage struct {
	msg queue.Message
	err error
}

// group decodes messages and merges those about the same product; ranges
// are returned apart.
func group(msgs []queue.Message) ([]*item, []rangeMsg, []badMessage) {
	byID := map[int64]*item{}
	var items []*item
	var ranges []rangeMsg
	var bad []badMessage
	for _, m := range msgs {
		qm, err := queuemsg.Decode(m.Body)
		if err != nil {
			bad = append(bad, badMessage{m, err})
			continue
		}
		if qm.Op == queuemsg.OpRange {
			ranges = append(ranges, rangeMsg{m, qm})
			continue
		}
		it := byID[qm.ProductID]
		if it == nil {
			it = &item{id: qm.ProductID, gens: map[string]bool{}}
			byID[qm.ProductID] = it
			items = append(items, it)
		}
		switch {
		case qm.Generation == "":
			it.gens = nil
		case it.gens != nil:
			it.gens[qm.Generation] = true
		}
		it.msgs = append(it.msgs, m)
		it.version = max(it.version, qm.Version)
		if qm.Source == queuemsg.SourceOutbox {
			it.changes = append(it.changes, change{qm.ChangedAt, m.SentAt})
		}
		if qm.Source != queuemsg.SourceCatchup {
			it.recent = true
		}
	}
	return items, ranges, bad
}

// splitError marks a failure that may be about one product of the batch,
// in target t's store.
type splitError struct {
	t   *target
	err error
}

func (s splitError) Error() string { return s.err.Error() }
func (s splitError) Unwrap() error { return s.err }
