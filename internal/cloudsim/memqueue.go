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
	dedup  map[string]time.Time
	dead   []*memMsg
	wake   chan struct{} // closed and replaced when something may have become visible
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
	return &MemQueue{maxReceives: maxReceives, groups: map[string]*memGroup{}, dedup: map[string]time.Time{}, wake: make(chan struct{})}
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

// take hands out up to max heads of idle groups; the lock is held.
func (q *MemQueue) take(max int, visibility time.Duration) []queue.Message {
	now := time.Now()
	var out []queue.Message
	kept := q.order[:0]
	for _, name := range q.order {
		g := q.groups[name]
		if len(g.msgs) == 0 {
			delete(q.groups, name)
			continue
		}
		kept = append(kept, name)
		if len(out) >= max {
			continue
		}
		for len(g.msgs) > 0 {
			h := g.msgs[0]
			if h.inFlight && now.Before(h.visibleAt) {
				break // the group is busy
			}
			if h.receives >= q.maxReceives {
				g.msgs = g.msgs[1:]
				h.inFlight = false
				q.dead = append(q.dead, h)
				continue
			}
			h.receives++
			h.inFlight, h.visibleAt, h.receipt = true, now.Add(visibility), q.next()
			out = append(out, queue.Message{ID: h.id, Receipt: h.receipt, Group: h.group,
				Body: append([]byte(nil), h.body...), ReceiveCount: h.receives, SentAt: h.sent})
			break
		}
	}
	q.order = kept
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

// find returns the in-flight message a receipt names; the lock is held.
func (q *MemQueue) find(receipt string) (*memGroup, int) {
	for _, g := range q.groups {
		if len(g.msgs) > 0 && g.msgs[0].inFlight && g.msgs[0].receipt == receipt {
			return g, 0
		}
	}
	return nil, -1
}

// index maps current receipts to their groups; the lock is held.
func (q *MemQueue) index() map[string]*memGroup {
	out := make(map[string]*memGroup)
	for _, g := range q.groups {
		if len(g.msgs) > 0 && g.msgs[0].inFlight {
			out[g.msgs[0].receipt] = g
		}
	}
	return out
}

// Ack deletes the messages whose receipts are current; stale ones are
// ignored.
func (q *MemQueue) Ack(ctx context.Context, receipts []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	idx := q.heads(receipts)
	for _, r := range receipts {
		if g := idx[r]; g != nil && g.msgs[0].receipt == r {
			g.msgs = g.msgs[1:]
		}
	}
	q.signal()
	return nil
}

// heads finds the groups of the receipts: by a scan of the heads for few
// receipts, by an index for many.
func (q *MemQueue) heads(receipts []string) map[string]*memGroup {
	if len(receipts) > 4 {
		return q.index()
	}
	out := make(map[string]*memGroup, len(receipts))
	for _, r := range receipts {
		if g, _ := q.find(r); g != nil {
			out[r] = g
		}
	}
	return out
}

// Extend sets the visibility of current receipts to visibility from now;
// zero releases them.
func (q *MemQueue) Extend(ctx context.Context, receipts []string, visibility time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	idx := q.heads(receipts)
	for _, r := range receipts {
		g := idx[r]
		if g == nil {
			continue
		}
		h := g.msgs[0]
		if h.receipt != r || !now.Before(h.visibleAt) {
			continue // redelivered, or its timeout ended
		}
		h.visibleAt = now.Add(visibility)
		if visibility <= 0 {
			h.inFlight = false
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
