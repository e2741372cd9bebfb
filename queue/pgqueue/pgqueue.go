// Package pgqueue is the embedded queue backend: SQS FIFO semantics on
// Postgres tables (migrations/002_queue.up.sql), so a laptop, a test or a
// small deployment needs nothing but the database it already has.
//
// Semantics, matching SQS FIFO:
//   - Only the oldest live message of a group can be received, so a group has
//     at most one message in flight and the next one waits behind it until it
//     is acknowledged, released, expires and is received again, or is
//     dead-lettered.
//   - A receive hides a message for the visibility timeout and bumps its
//     receive count; a message already received MaxReceives times is moved to
//     the dead-letter table when it would be received again.
//   - A DedupID seen within DedupWindow drops the later message.
//   - Each delivery carries a fresh receive token in its receipt, so Ack and
//     Extend with a receipt from an earlier delivery change nothing.
//   - Receive long-polls: it waits for a NOTIFY on a dedicated connection and
//     also polls, so a lost notification costs latency, never a message.
package pgqueue

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pglisten"
	"github.com/refarch/refarch/queue"
)

// channel is the NOTIFY channel the queue_messages trigger and Ack use.
const channel = "refarch_queue"

// Options tune a Queue. Zero values take the defaults.
type Options struct {
	// MaxReceives is how many times a message may be received before the
	// next receive dead-letters it (SQS maxReceiveCount). Default 5.
	MaxReceives int
	// DedupWindow is how long a DedupID suppresses repeats. Default 5 minutes, as SQS.
	DedupWindow time.Duration
	// PollInterval bounds how long a waiting Receive trusts NOTIFY alone
	// before it looks at the table again. Default 1 s.
	PollInterval time.Duration
	// Logger reports listener reconnects. Default: discard.
	Logger *slog.Logger
	// Lane is the lane this Queue sends to and receives from: the live
	// lane's messages are in queue_messages, the backfill lane's in
	// queue_backfill. They are independent queues, each with its own FIFO
	// order and dead letters, as two SQS queues are. Unlike two SQS queues
	// they share deduplication ids: a catch-up message for a product
	// version the outbox already sent is dropped. Default queue.LaneLive.
	// NewLanes builds both.
	Lane queue.Lane
}

func (o Options) withDefaults() Options {
	if o.MaxReceives <= 0 {
		o.MaxReceives = 5
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 5 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lane == "" {
		o.Lane = queue.LaneLive
	}
	return o
}

// Queue is the Postgres queue. It is safe for concurrent use; any number of
// Queues (in any number of processes) may share the tables.
type Queue struct {
	pool *pgxpool.Pool
	opts Options
	sql  statements // for the lane's table

	mu        sync.Mutex
	wake      chan struct{} // closed and replaced on every notification
	listening bool
	closed    bool
	stop      context.CancelFunc
	done      chan struct{}

	lastSweep atomic.Int64 // unix nanoseconds of the last dedup sweep
}

var _ queue.Queue = (*Queue)(nil)

// New returns a queue on pool's database, which must be migrated. It does no
// I/O; the listening connection opens on the first waiting Receive.
func New(pool *pgxpool.Pool, opts Options) *Queue {
	opts = opts.withDefaults()
	table := "queue_messages"
	if opts.Lane == queue.LaneBackfill {
		table = "queue_backfill"
	}
	return &Queue{pool: pool, opts: opts, sql: newStatements(table), wake: make(chan struct{})}
}

// statements are the queue's SQL for one lane's table.
type statements struct {
	send, receive, ack, extend, depth, redrive string
}

func newStatements(table string) statements {
	t := func(sql string) string { return strings.ReplaceAll(sql, "queue_messages", table) }
	return statements{send: t(sendSQL), receive: t(receiveSQL), ack: t(ackSQL), extend: t(extendSQL),
		depth: t(depthSQL), redrive: t(redriveSQL)}
}

// NewLanes returns the two-lane queue (see queue.Lanes) on pool's
// database: one Queue per lane, both with opts.
func NewLanes(pool *pgxpool.Pool, opts Options) (lanes *queue.Lanes, closeFn func()) {
	opts.Lane = queue.LaneLive
	live := New(pool, opts)
	opts.Lane = queue.LaneBackfill
	backfill := New(pool, opts)
	return queue.NewLanes(live, backfill), func() { live.Close(); backfill.Close() }
}

// Name describes the backend for status pages.
func (q *Queue) Name() string { return "postgres" }

// Lane is the lane this Queue serves.
func (q *Queue) Lane() queue.Lane { return q.opts.Lane }

// Close stops the listening connection. Receive still works afterwards, by
// polling only.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.closed = true
	stop, done := q.stop, q.done
	q.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

// Send enqueues msgs in order with one statement. A message whose DedupID was
// sent within the window (or earlier in the same batch) is dropped.
func (q *Queue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	return q.send(ctx, q.pool, msgs)
}

// SendTx is Send inside the caller's transaction, so that a producer can
// enqueue and delete its outbox rows atomically: the messages become
// visible (and receivers are woken) only when tx commits.
func (q *Queue) SendTx(ctx context.Context, tx pgx.Tx, msgs []queue.Outgoing) error {
	return q.send(ctx, tx, msgs)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (q *Queue) send(ctx context.Context, db execer, msgs []queue.Outgoing) error {
	if len(msgs) == 0 {
		return nil
	}
	groups := make([]string, len(msgs))
	dedups := make([]string, len(msgs))
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		if m.Group == "" {
			return fmt.Errorf("send message %d: empty group", i)
		}
		groups[i], dedups[i], bodies[i] = m.Group, m.DedupID, m.Body
		if bodies[i] == nil {
			bodies[i] = []byte{}
		}
	}
	q.sweepDedup(ctx)
	_, err := db.Exec(ctx, q.sql.send, groups, dedups, bodies, q.opts.DedupWindow.Microseconds())
	if err != nil {
		return fmt.Errorf("send %d messages: %w", len(msgs), err)
	}
	return nil
}

// sendSQL records the batch's first use of each DedupID that is not already
// live (in any lane) and inserts those messages (and the ones without a
// DedupID) in batch order. Concurrent senders of one
// DedupID serialise on its row.
const sendSQL = `
WITH input AS (
    SELECT grp, dedup, body, ord
    FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS t(grp, dedup, body, ord)
), firsts AS (
    SELECT DISTINCT ON (dedup) dedup, ord FROM input WHERE dedup <> '' ORDER BY dedup, ord
), fresh AS (
    INSERT INTO queue_dedup AS d (dedup_id, expires_at)
    SELECT dedup, now() + $4::bigint * interval '1 microsecond' FROM firsts ORDER BY dedup
    ON CONFLICT (dedup_id) DO UPDATE SET expires_at = excluded.expires_at
        WHERE d.expires_at <= now()
    RETURNING dedup_id
)
INSERT INTO queue_messages (group_id, dedup_id, body)
SELECT i.grp, i.dedup, i.body
FROM input i
WHERE i.dedup = ''
   OR EXISTS (SELECT 1 FROM firsts f JOIN fresh ON fresh.dedup_id = f.dedup
              WHERE f.dedup = i.dedup AND f.ord = i.ord)
ORDER BY i.ord`

// sweepDedup drops expired dedup ids about once a minute; failures only
// delay the cleanup, so they are ignored.
func (q *Queue) sweepDedup(ctx context.Context) {
	now := time.Now().UnixNano()
	last := q.lastSweep.Load()
	if now-last < int64(time.Minute) || !q.lastSweep.CompareAndSwap(last, now) {
		return
	}
	q.pool.Exec(ctx, `DELETE FROM queue_dedup WHERE expires_at <= now()`) //nolint:errcheck // housekeeping; the next send retries it
}

// asyncCommit is a CTE that turns off synchronous commit for the statement
// it is part of (joined once as "async"). Receive, Ack and Extend use it: a
// crash can lose only their last few milliseconds, which redelivers
// messages, as at-least-once allows, and never loses one. Send keeps
// synchronous commit, and since WAL is flushed in order, any later
// synchronous commit (such as pelican deleting its outbox rows) also makes
// the earlier asynchronous ones durable. It saves a WAL flush per call.
const asyncCommit = `async AS (SELECT set_config('synchronous_commit', 'off', true))`

// receiveSQL locks up to $1 receivable group heads (the oldest message of
// a group with none in flight: a later-committed older send must not join
// a newer one already received), dead-letters those
// already received $2 times and hides the rest for $3 microseconds. The
// dead-lettered rows come back with receive_count -1 so the caller can
// look again for more. The conditions test picked's receive_count so the
// planner drives the DELETE and UPDATE from the few picked rows.
const receiveSQL = `
WITH ` + asyncCommit + `, picked AS (
    SELECT m.id, m.receive_count FROM queue_messages m
    WHERE m.visible_at <= now()
      AND NOT EXISTS (SELECT 1 FROM queue_messages o WHERE o.group_id = m.group_id
                      AND (o.id < m.id OR (o.visible_at > now() AND o.receive_count > 0)))
    ORDER BY m.id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), dead AS (
    DELETE FROM queue_messages m USING picked p
    WHERE m.id = p.id AND p.receive_count >= $2
    RETURNING m.id, m.group_id, m.dedup_id, m.body, m.sent_at, m.receive_count
), buried AS (
    INSERT INTO queue_dead (id, group_id, dedup_id, body, sent_at, receive_count, lane)
    SELECT id, group_id, dedup_id, body, sent_at, receive_count, $4 FROM dead
), got AS (
    UPDATE queue_messages m
    SET visible_at = now() + $3::bigint * interval '1 microsecond',
        receive_count = m.receive_count + 1,
        receive_token = nextval('queue_receive_token_seq')
    FROM picked p, async
    WHERE m.id = p.id AND p.receive_count < $2
    RETURNING m.id, m.receive_token, m.group_id, m.body, m.receive_count, m.sent_at
)
SELECT id, receive_token, group_id, body, receive_count, sent_at FROM got
UNION ALL
SELECT id, 0, group_id, NULL, -1, sent_at FROM dead
ORDER BY id`

// Receive waits up to wait for at most max messages (at most one per group)
// and hides them for visibility. It returns ctx's error as soon as ctx ends
// while it waits; a statement under way when ctx ends runs to its end, and
// the messages it took are returned (with no error) for the caller to hand
// back, rather than left hidden with nobody holding them.
func (q *Queue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error) {
	if max <= 0 {
		max = 1
	}
	if visibility < 0 {
		visibility = 0
	}
	deadline := time.Now().Add(wait)
	if wait > 0 {
		if err := q.listen(ctx); err != nil {
			return nil, err
		}
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// Take the wake-up channel before looking, so a notification that
		// arrives while we look is not missed.
		wake := q.wakeChan()
		msgs, err := q.receiveOnce(ctx, max, visibility)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if len(msgs) > 0 {
			return msgs, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		// Since Go 1.23 Reset discards a tick nobody received, so a timer
		// left running by a wake-up needs no draining.
		d := min(left, q.opts.PollInterval)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		case <-timer.C:
		}
	}
}

// receiveOnce runs receiveSQL until it has max messages or dead-letters
// nothing more (each dead-lettered head may uncover the next of its group).
// Once it holds messages, a failing round returns them rather than the
// error, since they are hidden until their timeout either way.
func (q *Queue) receiveOnce(ctx context.Context, max int, visibility time.Duration) ([]queue.Message, error) {
	var out []queue.Message
	for len(out) < max {
		got, buried, err := q.receiveRound(ctx, max-len(out), visibility)
		if err != nil {
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
		out = append(out, got...)
		if buried == 0 {
			break
		}
	}
	return out, nil
}

// statementTimeout bounds a receive statement that runs to its end whatever
// happens to its caller's context (see receiveRound).
const statementTimeout = 30 * time.Second

// receiveRound runs receiveSQL once. It starts only while ctx lasts, and
// then runs to its end: when a context ends during a statement, pgx abandons
// the connection without cancelling the statement, and the server still
// runs it (under load, some milliseconds later), which would hide messages
// that nobody holds until their visibility timeout. So the messages it
// returns after ctx ended are the caller's to hand back.
func (q *Queue) receiveRound(ctx context.Context, max int, visibility time.Duration) (out []queue.Message, buried int, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statementTimeout)
	defer cancel()
	rows, err := q.pool.Query(ctx, q.sql.receive, max, q.opts.MaxReceives, visibility.Microseconds(), string(q.opts.Lane))
	if err != nil {
		return nil, 0, fmt.Errorf("receive messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, token int64
			m         queue.Message
		)
		if err := rows.Scan(&id, &token, &m.Group, &m.Body, &m.ReceiveCount, &m.SentAt); err != nil {
			return nil, 0, fmt.Errorf("read received message: %w", err)
		}
		if m.ReceiveCount < 0 {
			buried++
			continue
		}
		m.ID = strconv.FormatInt(id, 10)
		m.Receipt = m.ID + ":" + strconv.FormatInt(token, 10)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("receive messages: %w", err)
	}
	return out, buried, nil
}

// parseReceipts splits receipts ("id:token") into ids and tokens, in the
// order of their ids, whatever the order of receipts:
// Ack and Extend lock the messages' rows in that order, so an ack and an
// extend of the same messages (a worker's acker and its heartbeat) never
// wait for each other in a cycle (a deadlock, which failed acks under a
// bootstrap's load).
func parseReceipts(receipts []string) (ids, tokens []int64, err error) {
	type receipt struct{ id, token int64 }
	rs := make([]receipt, len(receipts))
	for i, r := range receipts {
		a, b, ok := strings.Cut(r, ":")
		id, err1 := strconv.ParseInt(a, 10, 64)
		tok, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("parse receipt %q: not a pgqueue receipt", r)
		}
		rs[i] = receipt{id, tok}
	}
	slices.SortFunc(rs, func(a, b receipt) int { return cmp.Compare(a.id, b.id) })
	ids = make([]int64, len(rs))
	tokens = make([]int64, len(rs))
	for i, r := range rs {
		ids[i], tokens[i] = r.id, r.token
	}
	return ids, tokens, nil
}

// ackSQL deletes the messages whose delivery the receipts name and, when one
// of them had a successor in its group, wakes receivers for it.
const ackSQL = `
WITH ` + asyncCommit + `, r AS (
    SELECT r.* FROM async, unnest($1::bigint[], $2::bigint[]) AS r(id, token)
), d AS (
    DELETE FROM queue_messages m USING r
    WHERE m.id = r.id AND m.receive_token = r.token AND r.token <> 0
    RETURNING m.id, m.group_id
)
SELECT count(pg_notify('` + channel + `', '')) FROM (
    SELECT 1 FROM d JOIN queue_messages n ON n.group_id = d.group_id AND n.id > d.id LIMIT 1) s`

// Ack deletes received messages. A receipt from an earlier delivery of a
// message that has since been received again deletes nothing, so a slow
// worker cannot drop the copy another worker holds.
func (q *Queue) Ack(ctx context.Context, receipts []string) error {
	if len(receipts) == 0 {
		return nil
	}
	ids, tokens, err := parseReceipts(receipts)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	if _, err := q.pool.Exec(ctx, q.sql.ack, ids, tokens); err != nil {
		return fmt.Errorf("ack %d messages: %w", len(receipts), err)
	}
	return nil
}

// Extend hides received messages for visibility from now; zero releases them
// at once. Receipts from earlier deliveries change nothing. Like any
// statement, one under way when ctx ends may still take effect (see
// receiveRound); emu gives its extends a context that does not end early,
// whatever the queue.
func (q *Queue) Extend(ctx context.Context, receipts []string, visibility time.Duration) error {
	if len(receipts) == 0 {
		return nil
	}
	if visibility < 0 {
		visibility = 0
	}
	ids, tokens, err := parseReceipts(receipts)
	if err != nil {
		return fmt.Errorf("extend: %w", err)
	}
	if _, err := q.pool.Exec(ctx, q.sql.extend, ids, tokens, visibility.Microseconds()); err != nil {
		return fmt.Errorf("extend visibility of %d messages: %w", len(receipts), err)
	}
	return nil
}

// extendSQL hides the messages whose delivery the receipts name for $3
// microseconds and, when that releases any (zero), wakes receivers in the
// same statement.
const extendSQL = `
WITH ` + asyncCommit + `, u AS (
    UPDATE queue_messages m SET visible_at = now() + $3::bigint * interval '1 microsecond'
    FROM async, unnest($1::bigint[], $2::bigint[]) AS r(id, token)
    WHERE m.id = r.id AND m.receive_token = r.token AND r.token <> 0
    RETURNING m.id
)
SELECT count(pg_notify('` + channel + `', '')) FROM (SELECT 1 FROM u WHERE $3::bigint = 0 LIMIT 1) s`

// depthHead is how many of the lane's oldest messages Depth looks at to
// count those in flight: receivers take group heads in id order, so the
// messages in flight are among the oldest. With fewer messages queued
// (and so at rest) the count is exact; beyond, a message in flight behind
// depthHead older ones is counted as visible.
const depthHead = 5000

// compactDeltas is how many depth delta rows a lane may hold before Depth
// folds them into one.
const compactDeltas = 64

// Depth reports the lane's visible (including those waiting behind their
// group's head), in-flight and dead messages in constant time: the number
// of messages and of dead letters comes from the counts the tables'
// triggers keep (migrations/016_queue_depth.up.sql), and the messages in
// flight from the oldest depthHead messages. It folds the lane's count
// changes into one row when they pile up.
func (q *Queue) Depth(ctx context.Context) (queue.Depth, error) {
	var d queue.Depth
	var messages, deltas, head int
	err := q.pool.QueryRow(ctx, q.sql.depth, string(q.opts.Lane), depthHead).Scan(&messages, &d.Dead, &deltas, &head, &d.InFlight)
	if err != nil {
		return d, fmt.Errorf("read queue depth: %w", err)
	}
	if head < depthHead {
		messages = head // all of them were looked at
	}
	d.Visible = max(0, messages-d.InFlight)
	if deltas > compactDeltas {
		if err := q.compactDepth(ctx); err != nil {
			return d, err
		}
	}
	return d, nil
}

const depthSQL = `
WITH head AS (SELECT visible_at FROM queue_messages ORDER BY id LIMIT $2),
d AS (SELECT coalesce(sum(messages), 0)::bigint AS messages, coalesce(sum(dead), 0)::bigint AS dead, count(*) AS deltas
      FROM queue_depth_deltas WHERE lane = $1)
SELECT d.messages, d.dead, d.deltas, (SELECT count(*) FROM head), (SELECT count(*) FROM head WHERE visible_at > now()) FROM d`

// compactDepth folds the lane's depth deltas into one row. One reader
// compacts at a time (the others skip it); writers only append, so they
// never wait for it.
func (q *Queue) compactDepth(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('queue_depth_deltas'), hashtext($1))`,
			string(q.opts.Lane)).Scan(&locked); err != nil || !locked {
			return err
		}
		_, err := tx.Exec(ctx, `WITH d AS (DELETE FROM queue_depth_deltas WHERE lane = $1 RETURNING messages, dead)
			INSERT INTO queue_depth_deltas (lane, messages, dead) SELECT $1, coalesce(sum(messages), 0), coalesce(sum(dead), 0) FROM d`,
			string(q.opts.Lane))
		return err
	})
	if err != nil {
		return fmt.Errorf("compact the queue depth counts: %w", err)
	}
	return nil
}

const redriveSQL = `
WITH d AS (DELETE FROM queue_dead WHERE lane = $1 RETURNING id, group_id, dedup_id, body, sent_at)
INSERT INTO queue_messages (group_id, dedup_id, body, sent_at)
SELECT group_id, dedup_id, body, sent_at FROM d ORDER BY id`

// Redrive moves every dead message back to the end of its group with a
// fresh receive count, keeping its original send time.
func (q *Queue) Redrive(ctx context.Context) (int, error) {
	tag, err := q.pool.Exec(ctx, q.sql.redrive, string(q.opts.Lane))
	if err != nil {
		return 0, fmt.Errorf("redrive dead messages: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func (q *Queue) wakeChan() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

func (q *Queue) broadcast() {
	q.mu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

// listen starts the listening connection once. The first connection must
// succeed (a wrong URL fails fast); later losses reconnect with backoff
// while receivers fall back to polling.
func (q *Queue) listen(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.listening || q.closed {
		return nil
	}
	l, err := pglisten.Listen(ctx, q.pool.Config(), channel)
	if err != nil {
		return fmt.Errorf("listen for queue messages: %w", err)
	}
	l.Name, l.Log = "queue", q.opts.Logger
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx)) // outlives this call; Close stops it
	q.listening, q.stop, q.done = true, stop, make(chan struct{})
	go func() {
		defer close(q.done)
		l.Run(lctx, q.broadcast)
	}()
	return nil
}
