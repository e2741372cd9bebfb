// Package pelican is the producer role: it moves every product that the
// vector index does not hold yet, and then every committed change, from
// Postgres onto the queue.
//
// Changes are captured by a trigger into sync_outbox in the changing
// transaction, so none can be lost between commit and queue. NOTIFY on
// refarch_outbox is only a wake-up; pelican also polls, so a missed
// notification costs latency, never a change. Any number of pelicans may run:
// they claim outbox rows and catch-up chunks with FOR UPDATE SKIP LOCKED, and
// the queue drops repeats by deduplication id.
package pelican

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/internal/failpoint"
	"github.com/refarch/refarch/internal/pglisten"
	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
)

// Channel is the NOTIFY channel the products trigger wakes pelican on.
const Channel = "refarch_outbox"

// Config tunes a Pelican.
type Config struct {
	// Model is the embedding model whose index the catch-up compares with
	// the table (index_state.model).
	Model string
	// BatchSize is the number of outbox rows per drain transaction and of
	// product ids per catch-up chunk. Default 500.
	BatchSize int
	// PollInterval is how often the outbox is scanned when no NOTIFY
	// arrives. Default 2 s.
	PollInterval time.Duration
	// Ready, when set, must succeed before anything is sent, so that a fresh
	// deployment never enqueues into an index that does not exist yet. It is
	// retried with backoff.
	Ready func(ctx context.Context) error
	// MinBackoff and MaxBackoff bound the retry delays (readiness, listener
	// reconnects, failed batches). Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Name identifies this replica in logs and in catchup_chunks.done_by.
	// Default: host name and process id.
	Name string
	// SkipCatchup disables the start-up catch-up (tests of the outbox path).
	SkipCatchup bool
	// SendBatch is the most messages per queue Send call; a batch of rows
	// is sent in calls of SendBatch, SendConcurrency at a time. Zero sends
	// each batch in one call (the Postgres queue); 10 matches SQS's
	// SendMessageBatch.
	SendBatch int
	// SendConcurrency bounds the Send calls in flight, across the drain
	// and every catch-up worker. Default 32.
	SendConcurrency int
	// CatchupWorkers is how many catch-up chunks one pelican works on at
	// once. Default 4.
	CatchupWorkers int
	// FollowGenerations runs a catch-up for every live index generation
	// (index_generations) instead of Model alone, and one for each new
	// generation as soon as its index exists: its backfill. Their messages
	// name the generation, so emu writes only that one.
	FollowGenerations bool
	// GenerationsPoll is how often the generations are reloaded when no
	// notification arrives. Default 5 s.
	GenerationsPoll time.Duration
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(10*time.Second, c.MinBackoff)
	}
	if c.SendConcurrency <= 0 {
		c.SendConcurrency = 32
	}
	if c.CatchupWorkers <= 0 {
		c.CatchupWorkers = 4
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = host + ":" + strconv.Itoa(os.Getpid())
	}
	return c
}

// Sender is the part of a queue (queue.Queue) pelican uses: it only sends.
type Sender interface {
	Send(ctx context.Context, msgs []queue.Outgoing) error
}

// Pelican is the producer role.
type Pelican struct {
	pool *pgxpool.Pool
	q    Sender
	cfg  Config
	log  *slog.Logger
	m    metrics
	// quota counts sends refused by a queue quota and says which bound.
	quota *quota.Watch
	// sending holds a token per Send call in flight.
	sending chan struct{}
}

type metrics struct {
	sent       *prometheus.CounterVec
	batch      prometheus.Histogram
	catchupDue prometheus.Gauge
	reconnects prometheus.Counter
	errors     prometheus.Counter
	refused    prometheus.Counter
}

// New returns a pelican; it does no I/O until Run.
func New(pool *pgxpool.Pool, q Sender, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Pelican {
	f := promauto.With(reg)
	log = log.With("role", "pelican")
	return &Pelican{
		pool: pool, q: q, cfg: cfg.withDefaults(), log: log,
		quota:   quota.NewWatch("refarch_pelican_quota_throttled_total", log, reg),
		sending: make(chan struct{}, cfg.withDefaults().SendConcurrency),
		m: metrics{
			sent: f.NewCounterVec(prometheus.CounterOpts{Name: "refarch_pelican_messages_sent_total",
				Help: "Messages sent to the queue, by source (outbox or catchup) and op."}, []string{"source", "op"}),
			batch: f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_pelican_batch_size",
				Help: "Messages per send.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
			catchupDue: f.NewGauge(prometheus.GaugeOpts{Name: "refarch_pelican_catchup_chunks_remaining",
				Help: "Catch-up chunks not yet sent in the open pass, as last seen by this replica."}),
			reconnects: f.NewCounter(prometheus.CounterOpts{Name: "refarch_pelican_listener_reconnects_total",
				Help: "Times the LISTEN connection was re-established."}),
			errors: f.NewCounter(prometheus.CounterOpts{Name: "refarch_pelican_errors_total",
				Help: "Failed drain or catch-up attempts (retried with backoff)."}),
			refused: f.NewCounter(prometheus.CounterOpts{Name: "refarch_pelican_messages_refused_total",
				Help: "Messages the queue refused for good; their products are recorded as failed."}),
		},
	}
}

// Run waits for the index, starts listening, catches up and drains the
// outbox until ctx is cancelled. The first LISTEN connection is retried
// like the wait for the index: by then the database has answered, and a
// refusal (a password rotated while the index was awaited, a failover) is
// as passing as any later one, which the listener rides out itself.
func (p *Pelican) Run(ctx context.Context) error {
	if err := p.waitReady(ctx); err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	var l *pglisten.Listener
	err := p.retry(ctx, "a connection listening for outbox notifications", func(ctx context.Context) error {
		var err error
		l, err = pglisten.Listen(ctx, p.pool.Config(), Channel)
		return err
	})
	if err != nil {
		return nil // ctx ended
	}
	l.Name, l.Log, l.MinBackoff, l.MaxBackoff = "outbox", p.log, p.cfg.MinBackoff, p.cfg.MaxBackoff
	l.Reconnected = p.m.reconnects.Inc
	p.log.InfoContext(ctx, "pelican started", "model", p.cfg.Model, "name", p.cfg.Name)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { l.Run(gctx, func() { signal(wake) }); return nil })
	switch {
	case p.cfg.SkipCatchup:
	case p.cfg.FollowGenerations:
		g.Go(func() error { p.followGenerations(gctx); return nil })
	default:
		g.Go(func() error { p.catchupLoop(gctx, catchup{model: p.cfg.Model}); return nil })
	}
	g.Go(func() error { p.drainLoop(gctx, wake); return nil })
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (p *Pelican) waitReady(ctx context.Context) error { return p.waitFor(ctx, p.cfg.Ready) }

// waitFor retries ready with backoff until it succeeds or ctx ends.
func (p *Pelican) waitFor(ctx context.Context, ready func(ctx context.Context) error) error {
	if ready == nil {
		return nil
	}
	return p.retry(ctx, "the vector index to be ready", ready)
}

// retry runs f with backoff until it succeeds or ctx ends, logging what it
// waits for with the error every tenth attempt.
func (p *Pelican) retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt%10 == 0 {
			p.log.WarnContext(ctx, "waiting before sending anything", "for", what, "err", err)
		}
		if !backoff.Sleep(ctx, backoff.Delay(attempt, p.cfg.MinBackoff, p.cfg.MaxBackoff)) {
			return ctx.Err()
		}
	}
}

func signal(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// drainLoop drains the outbox whenever woken and at every poll interval,
// and keeps going while batches come back full.
func (p *Pelican) drainLoop(ctx context.Context, wake <-chan struct{}) {
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	failures := 0
	for {
		n, err := p.DrainOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.m.errors.Inc()
			p.log.ErrorContext(ctx, "drain outbox", "err", err)
			failures++
			if !backoff.Sleep(ctx, backoff.Delay(failures, p.cfg.MinBackoff, p.cfg.MaxBackoff)) {
				return
			}
			continue
		}
		failures = 0
		if n >= p.cfg.BatchSize {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
	}
}

type outboxRow struct {
	id, productID, version int64
	op                     string
	changedAt              time.Time
	oldRow, newRow         []byte
}

// DrainOnce sends one batch of outbox rows and deletes them in the same
// transaction, returning how many rows it took. Rows locked by another
// pelican are skipped, so replicas split the outbox. When several rows of one
// product are in the batch only the newest is sent: emu indexes the current
// row anyway.
func (p *Pelican) DrainOnce(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, product_id, op, version, changed_at, old_row, new_row
			FROM sync_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, p.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
			var o outboxRow
			err := r.Scan(&o.id, &o.productID, &o.op, &o.version, &o.changedAt, &o.oldRow, &o.newRow)
			return o, err
		})
		if err != nil {
			return fmt.Errorf("read outbox rows: %w", err)
		}
		n = len(batch)
		if n == 0 {
			return nil
		}
		newest := make(map[int64]outboxRow, n)
		order := make([]int64, 0, n)
		ids := make([]int64, n)
		for i, o := range batch {
			ids[i] = o.id
			cur, seen := newest[o.productID]
			if !seen {
				order = append(order, o.productID)
			}
			if !seen || o.version > cur.version || (o.version == cur.version && o.id > cur.id) {
				newest[o.productID] = o
			}
		}
		msgs := make([]queuemsg.Message, 0, len(order))
		for _, pid := range order {
			m, err := outboxMessage(newest[pid])
			if err != nil {
				// A row this binary cannot read would block the outbox
				// forever; send what the message needs and let emu read
				// the current row.
				p.log.ErrorContext(ctx, "outbox row has an unreadable record", "product_id", pid, "err", err)
				o := newest[pid]
				m = queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceOutbox, ProductID: pid, Version: o.version, ChangedAt: o.changedAt,
					New: &product.Product{ID: pid, Version: o.version}}
				if o.op == "delete" {
					m.Op, m.New = queuemsg.OpDelete, nil
				}
			}
			msgs = append(msgs, m)
		}
		rs, err := p.send(ctx, msgs)
		if err != nil {
			return err
		}
		failpoint.Hit(failpoint.PelicanAfterSend)
		if err := p.isolate(ctx, tx, rs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sync_outbox WHERE id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("delete %d sent outbox rows: %w", len(ids), err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func outboxMessage(o outboxRow) (queuemsg.Message, error) {
	m := queuemsg.Message{Source: queuemsg.SourceOutbox, ProductID: o.productID, Version: o.version, ChangedAt: o.changedAt}
	var err error
	if m.Old, err = record(o.oldRow); err != nil {
		return m, fmt.Errorf("old row: %w", err)
	}
	if o.op == "delete" {
		m.Op = queuemsg.OpDelete
		return m, m.Validate()
	}
	m.Op = queuemsg.OpUpsert
	if m.New, err = record(o.newRow); err != nil {
		return m, fmt.Errorf("new row: %w", err)
	}
	return m, m.Validate()
}

// record reads a to_jsonb(products row) copy from the outbox.
func record(b []byte) (*product.Product, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var p product.Product
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// refused is a message the queue refused for good, with its reason.
type refused struct {
	msg    queuemsg.Message
	reason string
}

// send sends msgs and returns those the queue refused for good (for what
// they hold): every other message was sent. A queue that refuses every
// message of a batch of several is taken to be failing, not the messages,
// and send returns an error for the caller to retry.
func (p *Pelican) send(ctx context.Context, msgs []queuemsg.Message) ([]refused, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	out := make([]queue.Outgoing, 0, len(msgs))
	groups := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		o, err := queuemsg.Outgoing(m)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		groups[o.Group] = true
	}
	bad, err := p.sendAll(ctx, out, len(groups) == len(out))
	if err != nil {
		return nil, fmt.Errorf("send %d messages: %w", len(out), err)
	}
	if len(bad) > 1 && len(bad) == len(out) {
		return nil, fmt.Errorf("send %d messages: the queue refused every one, taken for a failure of the queue: %w",
			len(out), &queue.RefusedError{Refused: bad})
	}
	p.m.batch.Observe(float64(len(out)))
	rs := make([]refused, 0, len(bad))
	isBad := make(map[int]bool, len(bad))
	for _, r := range bad {
		if r.Index < 0 || r.Index >= len(msgs) || isBad[r.Index] {
			continue
		}
		isBad[r.Index] = true
		rs = append(rs, refused{msg: msgs[r.Index], reason: r.Reason})
	}
	for i, m := range msgs {
		if !isBad[i] {
			p.m.sent.WithLabelValues(string(m.Source), string(m.Op)).Inc()
		}
	}
	return rs, nil
}

// isolate records each product whose message the queue refused for good as
// failed, with the queue's reason, in tx: status, the UI's badge and the
// failure listing show it, and the caller drops its outbox row or marks its
// catch-up chunk done with the others, so that nothing waits behind it. The
// row itself stays in the table: an edit the queue takes, or the next
// catch-up pass, sends it again, and indexing it clears the failure.
func (p *Pelican) isolate(ctx context.Context, tx pgx.Tx, rs []refused) error {
	states := indexstate.New(tx, p.cfg.Model)
	for _, r := range rs {
		p.m.refused.Inc()
		p.log.ErrorContext(ctx, "queue refused a message for good; product recorded as failed, the others go on",
			"product_id", r.msg.ProductID, "version", r.msg.Version, "source", r.msg.Source, "err", r.reason)
		if err := states.Fail(ctx, indexstate.Failure{ProductID: r.msg.ProductID, Version: r.msg.Version,
			Error: "the queue refused the message for good: " + r.reason}); err != nil {
			return err
		}
	}
	return nil
}

// sendAll sends out in calls of at most SendBatch messages and returns the
// messages the queue refused for good (Index into out). When every message
// is of its own group (product), which is how the drain and the catch-up
// build their batches, the calls go SendConcurrency at a time: FIFO order
// only binds within a group, and the batch's calls all end before the next
// batch is sent. Otherwise they go one after the other, in order.
func (p *Pelican) sendAll(ctx context.Context, out []queue.Outgoing, distinct bool) ([]queue.Refusal, error) {
	size := p.cfg.SendBatch
	if size <= 0 {
		size = len(out)
	}
	var mu sync.Mutex
	var bad []queue.Refusal
	sendAt := func(ctx context.Context, start int) error {
		rs, err := p.sendPart(ctx, out[start:min(len(out), start+size)])
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			r.Index += start
			bad = append(bad, r)
		}
		return err
	}
	if !distinct || len(out) <= size {
		for start := 0; start < len(out); start += size {
			if err := sendAt(ctx, start); err != nil {
				return nil, err
			}
		}
		return bad, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for start := 0; start < len(out); start += size {
		select {
		case p.sending <- struct{}{}:
		case <-gctx.Done():
			return nil, errors.Join(g.Wait(), ctx.Err())
		}
		g.Go(func() error {
			defer func() { <-p.sending }()
			return sendAt(gctx, start)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return bad, nil
}

// sendPart sends one call's messages, backing off and retrying while the
// queue refuses it for a quota (SQS throttling), so that a throttled call
// neither fails the batch nor reorders it. A retry may repeat messages of
// the part that went through; the queue drops them by deduplication id. It
// returns the messages the queue refused for good; the others were sent.
func (p *Pelican) sendPart(ctx context.Context, part []queue.Outgoing) ([]queue.Refusal, error) {
	for attempt := 0; ; attempt++ {
		err := p.q.Send(ctx, part)
		var re *queue.RefusedError
		if errors.As(err, &re) {
			return re.Refused, nil
		}
		if err == nil || ctx.Err() != nil || !p.quota.Note(ctx, err) {
			return nil, err
		}
		if !backoff.Sleep(ctx, backoff.Delay(attempt, p.cfg.MinBackoff, p.cfg.MaxBackoff)) {
			return nil, ctx.Err()
		}
	}
}

var errNoChunk = errors.New("no chunk left to claim")

// followGenerations runs the catch-up of every live generation once per
// process, starting the catch-up (backfill) of a generation created later
// as soon as an emu has opened its index, and stopping that of a
// generation no longer live, until ctx is cancelled. Each catch-up then
// follows bulk loads for its generation.
func (p *Pelican) followGenerations(ctx context.Context) {
	running := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer wg.Wait()
	check := func(ctx context.Context) {
		live, err := generations.Live(ctx, p.pool)
		if err != nil {
			if ctx.Err() == nil {
				p.log.WarnContext(ctx, "read index generations", "err", err)
			}
			return
		}
		seen := make(map[string]bool, len(live))
		for _, g := range live {
			seen[g.Name] = true
			if running[g.Name] != nil {
				continue
			}
			gctx, cancel := context.WithCancel(ctx)
			running[g.Name] = cancel
			p.log.InfoContext(ctx, "catching up index generation", "generation", g.Name, "state", g.State)
			wg.Go(func() {
				if p.waitFor(gctx, IndexReady(p.pool, g.Name)) != nil {
					return
				}
				p.catchupLoop(gctx, catchup{model: g.Name, gen: g.Name})
			})
		}
		for _, g := range live {
			if g.State == generations.Building && g.AutoPromote {
				p.autoPromote(ctx, g)
			}
		}
		for name, cancel := range running {
			if !seen[name] {
				cancel()
				delete(running, name)
			}
		}
	}
	check(ctx)
	generations.Watch(ctx, p.pool, p.cfg.GenerationsPoll, p.log, check)
	for _, cancel := range running {
		cancel()
	}
}

// autoPromote promotes a building generation created with auto_promote
// once its backfill is complete: its catch-up pass has been sent, and it
// holds every row the active generation holds (as `refarch index promote`
// judges it, without --force). Until then it does nothing; the generations'
// polling brings it back.
func (p *Pelican) autoPromote(ctx context.Context, g generations.Generation) {
	var sent bool
	if err := p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM catchup_passes WHERE model = $1 AND full_table AND finished_at IS NOT NULL)`,
		g.Name).Scan(&sent); err != nil {
		if ctx.Err() == nil {
			p.log.WarnContext(ctx, "read the backfill of an auto-promoted generation", "generation", g.Name, "err", err)
		}
		return
	}
	if !sent {
		return
	}
	_, err := generations.PromoteComplete(ctx, p.pool, g.Name, false)
	var inc generations.IncompleteError
	switch {
	case errors.As(err, &inc):
		p.log.DebugContext(ctx, "auto-promoted generation not complete yet", "generation", g.Name, "missing", inc.Missing)
	case err != nil:
		if ctx.Err() == nil {
			p.log.WarnContext(ctx, "auto-promote index generation", "generation", g.Name, "err", err)
		}
	default:
		p.log.InfoContext(ctx, "index generation complete: promoted (auto_promote)", "generation", g.Name, "took", time.Since(g.CreatedAt).Round(time.Millisecond))
	}
}

// IndexReady is a Config.Ready that succeeds once an emu has opened (and so
// created) the vector index of model and registered it in vector_indexes.
func IndexReady(pool *pgxpool.Pool, model string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		return indexstate.New(pool, model).Registered(ctx)
	}
}
