package cloudsim

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/refarch/refarch/queue"
)

// dedupWindow is SQS FIFO's deduplication interval.
const dedupWindow = 5 * time.Minute

// MemQueue is an in-memory queue.Queue with SQS FIFO's semantics (per-group
// order with one group's head in flight at a time, visibility timeouts,
// deduplication, receive counts and a dead-letter queue), for benchmarks
// that wrap it in Queue: it costs microseconds a call, so a run measures
// the modelled latency and quotas, not a local backend's own work. It
// passes the queue conformance suite.
type MemQueue struct {
	maxReceives int

	mu     sync.Mutex
	seq    int
	groups map[string]*memGroup
	order  []string // groups by first arrival; empty groups are dropped lazily
	// receipts finds the group of a receipt handed out, so that Ack and
	// Extend cost their receipts, not the backlog; an entry is current
	// only while it is its group's head's receipt and the head is in
	// flight.
	receipts map[string]*memGroup
	dedup    map[string]time.Time
	dead     []*memMsg
	wake     chan struct{} // closed and replaced when something may have become visible
}

type memGroup struct {
	msgs []*memMsg
}

type memMsg struct {
	id, receipt string
	group       string
	body        []byte
	receives    int
	sent        time.Time
	visibleAt   time.Time // zero: never received, or released
	inFlight    bool
}

var _ queue.Queue = (*MemQueue)(nil)

// NewMemQueue returns an empty queue that dead-letters a message on the
// receive after maxReceives (default 5).
func NewMemQueue(maxReceives int) *MemQueue {
	if maxReceives <= 0 {
		maxReceives = 5
	}
	return &MemQueue{maxReceives: maxReceives, groups: map[string]*memGroup{}, receipts: map[string]*memGroup{}, dedup: map[string]time.Time{}, wake: make(chan struct{})}
}

// Name describes the backend.
func (q *MemQueue) Name() string { return "memory" }

func (q *MemQueue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

func (q *MemQueue) next() string {
	q.seq++
	return strconv.Itoa(q.seq)
}

// Send appends msgs to their groups, dropping repeats of a DedupID sent in
// the last five minutes.
func (q *MemQueue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	for i, m := range msgs {
		if m.Group == "" {
			return errors.New("send message " + strconv.Itoa(i) + ": empty group")
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, m := range msgs {
		if m.DedupID != "" {
			if at, ok := q.dedup[m.DedupID]; ok && now.Sub(at) < dedupWindow {
				continue
			}
			q.dedup[m.DedupID] = now
		}
		q.push(&memMsg{id: q.next(), group: m.Group, body: append([]byte(nil), m.Body...), sent: now})
	}
	q.signal()
	return nil
}

func (q *MemQueue) push(m *memMsg) {
	g := q.groups[m.group]
	if g == nil {
		g = &memGroup{}
		q.groups[m.group] = g
		q.order = append(q.order, m.group)
	}
	g.msgs = append(g.msgs, m)
}

// take hands out up to max heads of idle groups; the lock is held. It
// stops at the max-th: a call costs the busy groups ahead of the idle
// ones, not the whole backlog.
func (q *MemQueue) take(max int, visibility time.Duration) []queue.Message {
	now := time.Now()
	var out []queue.Message
	var kept []string // the live groups of the part scanned
	i := 0
	for ; i < len(q.order) && len(out) < max; i++ {
		name := q.order[i]
		g := q.groups[name]
		if len(g.msgs) == 0 {
			delete(q.groups, name)
			continue
		}
		kept = append(kept, name)
		for len(g.msgs) > 0 {
			h := g.msgs[0]
			if h.inFlight && now.Before(h.visibleAt) {
				break // the group is busy
			}
			delete(q.receipts, h.receipt)
			if h.receives >= q.maxReceives {
				g.msgs = g.msgs[1:]
				h.inFlight = false
				q.dead = append(q.dead, h)
				continue
			}
			h.receives++
			h.inFlight, h.visibleAt, h.receipt = true, now.Add(visibility), q.next()
			q.receipts[h.receipt] = g
			out = append(out, queue.Message{ID: h.id, Receipt: h.receipt, Group: h.group,
				Body: append([]byte(nil), h.body...), ReceiveCount: h.receives, SentAt: h.sent})
			break
		}
	}
	// The live groups scanned move up against the rest, which stays put.
	start := i - len(kept)
	copy(q.order[start:i], kept)
	clear(q.order[:start])
	q.order = q.order[start:]
	return out
}

// Receive waits up to wait for messages, returning at most max (at most one
// per group), hidden for visibility.
func (q *MemQueue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error) {
	if max <= 0 {
		max = 1
	}
	deadline := time.Now().Add(wait)
	for {
		q.mu.Lock()
		out := q.take(max, visibility)
		wake := q.wake
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, ctx.Err()
		}
		// Visibility timeouts end without a signal: look again soon.
		t := time.NewTimer(min(left, 20*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Ack deletes the messages whose receipts are current; stale ones are
// ignored.
func (q *MemQueue) Ack(ctx context.Context, receipts []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range receipts {
		if g := q.head(r); g != nil {
			g.msgs = g.msgs[1:]
			delete(q.receipts, r)
		}
	}
	q.signal()
	return nil
}

// head is the group whose head in flight has receipt r, or nil.
func (q *MemQueue) head(r string) *memGroup {
	g := q.receipts[r]
	if g == nil || len(g.msgs) == 0 || !g.msgs[0].inFlight || g.msgs[0].receipt != r {
		return nil
	}
	return g
}

// Extend sets the visibility of current receipts to visibility from now;
// zero releases them.
func (q *MemQueue) Extend(ctx context.Context, receipts []string, visibility time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, r := range receipts {
		g := q.head(r)
		if g == nil {
			continue // acknowledged, released or redelivered
		}
		h := g.msgs[0]
		if !now.Before(h.visibleAt) {
			continue // its timeout ended
		}
		h.visibleAt = now.Add(visibility)
		if visibility <= 0 {
			h.inFlight = false
			delete(q.receipts, r)
		}
	}
	q.signal()
	return nil
}

// Depth counts visible messages (those behind a busy head among them), the
// heads in flight and the dead.
func (q *MemQueue) Depth(ctx context.Context) (queue.Depth, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var d queue.Depth
	for _, g := range q.groups {
		for i, m := range g.msgs {
			if i == 0 && m.inFlight && now.Before(m.visibleAt) {
				d.InFlight++
			} else {
				d.Visible++
			}
		}
	}
	d.Dead = len(q.dead)
	return d, nil
}

// Redrive moves the dead-lettered messages to the end of their groups,
// with their receive counts reset.
func (q *MemQueue) Redrive(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.dead)
	for _, m := range q.dead {
		m.receives, m.inFlight, m.visibleAt, m.receipt = 0, false, time.Time{}, ""
		m.id = q.next()
		q.push(m)
	}
	q.dead = nil
	q.signal()
	return n, nil
}
