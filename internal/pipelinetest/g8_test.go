package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/roles/pelican"
)

// recordingQueue counts every message sent through it by deduplication id,
// can slow sends down, and can fail every send after a number of them.
type recordingQueue struct {
	queue.Queue
	delay     time.Duration
	failAfter atomic.Int64 // sends still allowed; negative: unlimited
	mu        sync.Mutex
	sent      map[string]int
	messages  int // messages sent (a range counts once)
}

func newRecorder(q queue.Queue) *recordingQueue {
	r := &recordingQueue{Queue: q, sent: map[string]int{}}
	r.failAfter.Store(-1)
	return r
}

func (r *recordingQueue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	if r.failAfter.Load() == 0 {
		return errors.New("pelican crashed")
	}
	r.failAfter.Add(-1)
	time.Sleep(r.delay)
	if err := r.Queue.Send(ctx, msgs); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages += len(msgs)
	for _, m := range msgs {
		// A range stands for every product of its chunk: "r<id>" each.
		if qm, err := queuemsg.Decode(m.Body); err == nil && qm.Op == queuemsg.OpRange {
			for id := qm.Lo; id <= qm.Hi; id++ {
				r.sent["r"+strconv.FormatInt(id, 10)]++
			}
			continue
		}
		r.sent[m.DedupID]++
	}
	return nil
}

func sentTotals(rs ...*recordingQueue) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		r.mu.Lock()
		for k, v := range r.sent {
			out[k] += v
		}
		r.mu.Unlock()
	}
	return out
}

// passFinished is a waitFor condition: a catch-up pass of the model newer
// than pass after has started and is closed with every chunk done.
func (e *env) passFinished(ctx context.Context, after int64) func() string {
	return func() string {
		var open, done, total int
		err := e.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM catchup_passes WHERE model = $1 AND id > $2 AND finished_at IS NULL),
			count(*) FILTER (WHERE c.done_at IS NOT NULL), count(*)
			FROM catchup_chunks c JOIN catchup_passes p ON p.id = c.pass_id WHERE p.model = $1 AND p.id > $2`,
			e.model, after).Scan(&open, &done, &total)
		if err != nil {
			return err.Error()
		}
		if open == 0 && total > 0 && done == total {
			return ""
		}
		return fmt.Sprintf("%d open passes, %d of %d chunks done", open, done, total)
	}
}

// G8: the bootstrap (catch-up of a table the index does not hold) splits
// across two pelicans with every product sent exactly once, resumes after a
// pelican dies mid-way without resending finished chunks, and nothing is sent
// before the vector index exists.
func TestG8BootstrapSplitsResumesAndWaitsForIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	ids := e.insert(ctx, 1500, "books")
	// A table that predates the pipeline: no outbox, only the catch-up.
	e.exec(ctx, `DELETE FROM sync_outbox`)

	// Not ready: pelicans wait for emu to register the index.
	var readyCalls atomic.Int64
	ready := pelican.IndexReady(e.pool, e.model)
	cfg := e.pelicanConfig()
	cfg.BatchSize = 50
	cfg.Ready = func(ctx context.Context) error {
		readyCalls.Add(1)
		return ready(ctx)
	}

	// First pelican dies after sending four chunks.
	first := newRecorder(e.q)
	first.failAfter.Store(4)
	cfgFirst := cfg
	cfgFirst.Name = "first"
	p1 := e.startPelican(cfgFirst, first)
	waitFor(t, 20*time.Second, func() string {
		if n := readyCalls.Load(); n < 3 {
			return fmt.Sprintf("readiness checked %d times", n)
		}
		return ""
	})
	if d, err := e.q.Depth(ctx); err != nil || d.Visible != 0 {
		t.Fatalf("pelican enqueued %+v (%v) before the index existed", d, err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO vector_indexes (model, store) VALUES ($1, $2)`, e.model, e.store.Name()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() string {
		var done int
		e.pool.QueryRow(ctx, `SELECT count(*) FROM catchup_chunks WHERE done_at IS NOT NULL`).Scan(&done)
		if done == 4 && first.failAfter.Load() == 0 {
			return ""
		}
		return fmt.Sprintf("%d chunks done by the first pelican", done)
	})
	p1.stop()

	// Two replicas resume the pass and split what is left.
	a, b := newRecorder(e.q), newRecorder(e.q)
	a.delay, b.delay = 40*time.Millisecond, 40*time.Millisecond // ~1 s of work, so both get a share
	cfgA, cfgB := cfg, cfg
	cfgA.Name, cfgB.Name = "a", "b"
	e.startPelican(cfgA, a)
	e.startPelican(cfgB, b)
	waitFor(t, 30*time.Second, e.passFinished(ctx, 0))

	sent := sentTotals(first, a, b)
	if len(sent) != len(ids) {
		t.Fatalf("catch-up sent %d distinct products, want %d", len(sent), len(ids))
	}
	for id, n := range sent {
		if n != 1 {
			t.Fatalf("message %s sent %d times", id, n)
		}
	}
	var byFirst, byA, byB int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE done_by = 'first'), count(*) FILTER (WHERE done_by = 'a'),
		count(*) FILTER (WHERE done_by = 'b') FROM catchup_chunks`).Scan(&byFirst, &byA, &byB); err != nil {
		t.Fatal(err)
	}
	if byFirst != 4 || byA == 0 || byB == 0 {
		t.Fatalf("chunks done: first %d, a %d, b %d; want 4 and a split of the rest", byFirst, byA, byB)
	}

	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.converged(ctx, 60*time.Second)

	// A restart after a finished pass starts a new one that finds nothing
	// to send: the index is in sync. The finished pass would satisfy the
	// wait at once, so wait for a newer one.
	var last int64
	if err := e.pool.QueryRow(ctx, `SELECT max(id) FROM catchup_passes WHERE model = $1`, e.model).Scan(&last); err != nil {
		t.Fatal(err)
	}
	c := newRecorder(e.q)
	e.startPelican(cfg, c)
	waitFor(t, 30*time.Second, e.passFinished(ctx, last))
	if n := len(sentTotals(c)); n != 0 {
		t.Fatalf("catch-up of an index in sync sent %d messages", n)
	}
}

// Deletes the index missed are found by the catch-up: a product deleted
// with its outbox row lost is removed from the index after a restart.
func TestG8CatchupDeletesOrphans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, nil, nil)
	ids := e.insert(ctx, 100, "books")
	p := e.startPelican(e.pelicanConfig(), nil)
	e.converged(ctx, 30*time.Second)
	p.stop()
	e.exec(ctx, `DELETE FROM products WHERE id = ANY($1)`, ids[:10])
	e.exec(ctx, `DELETE FROM sync_outbox`)
	if s := e.status(ctx); s.DeletePending != 10 {
		t.Fatalf("status: %+v, want 10 deletes pending", s)
	}
	e.startPelican(e.pelicanConfig(), nil)
	e.converged(ctx, 30*time.Second)
}
