package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Lane is the queue a message travels on. Live changes (the outbox) and
// backfill (a bootstrap's catch-up, a repair, a new index generation) each
// have their own queue, so that a change made during a backfill of a million
// products is not queued behind it (G10).
type Lane string

// The lanes. The zero value is the live lane.
const (
	// LaneLive carries committed changes from the outbox; consumers drain
	// it before the backfill lane.
	LaneLive Lane = "live"
	// LaneBackfill carries everything a producer sends in bulk to bring an
	// index up to the table: pelican's catch-up (the bootstrap), reconcile's
	// repairs and a new index generation's backfill.
	LaneBackfill Lane = "backfill"
)

func (l Lane) orLive() Lane {
	if l == "" {
		return LaneLive
	}
	return l
}

// LaneDepth is one lane's backlog.
type LaneDepth struct {
	Lane Lane `json:"lane"`
	Depth
}

// Lanes is a Queue over two queues, one per lane, that always serves the
// live lane first. Send routes each message by its Lane; Receive takes from
// the live lane and only when it has nothing visible from the backfill lane,
// so a live change waits for at most the batches a consumer already holds,
// whatever the backfill's backlog. The lanes are independent queues: a
// product can have a message in flight on each at once, and its version
// guard (emu re-reads the row and writes only what is newer than the index
// holds) keeps an older backfill message from undoing a newer live one.
//
// Receipts are prefixed with their lane, so Ack and Extend route them back.
type Lanes struct {
	live, backfill Queue
}

var _ Queue = (*Lanes)(nil)

// NewLanes returns the two-lane queue over live and backfill. backfill may
// be nil: both lanes then share the live queue (a deployment that has not
// created the second queue yet), which keeps every guarantee but G10.
func NewLanes(live, backfill Queue) *Lanes {
	return &Lanes{live: live, backfill: backfill}
}

// Lane returns the queue of lane (the live queue when the lanes share one).
func (l *Lanes) Lane(lane Lane) Queue {
	if lane.orLive() == LaneBackfill && l.backfill != nil {
		return l.backfill
	}
	return l.live
}

// Split reports whether the lanes have queues of their own.
func (l *Lanes) Split() bool { return l.backfill != nil }

// Name describes the backend for status pages.
func (l *Lanes) Name() string { return l.live.Name() }

// Send sends each lane's messages to its queue, in order within each lane.
// Refusals (a *RefusedError) name positions in msgs, whichever lane
// refused them.
func (l *Lanes) Send(ctx context.Context, msgs []Outgoing) error {
	if !l.Split() {
		return l.live.Send(ctx, msgs)
	}
	var parts [2]struct {
		msgs []Outgoing
		at   []int // each message's position in msgs
	}
	for i, m := range msgs {
		k := 0
		if m.Lane.orLive() == LaneBackfill {
			k = 1
		}
		parts[k].msgs = append(parts[k].msgs, m)
		parts[k].at = append(parts[k].at, i)
	}
	var refused []Refusal
	for k, q := range []Queue{l.live, l.backfill} {
		if len(parts[k].msgs) == 0 {
			continue
		}
		err := q.Send(ctx, parts[k].msgs)
		var re *RefusedError
		switch {
		case err == nil:
		case errors.As(err, &re):
			for _, r := range re.Refused {
				refused = append(refused, Refusal{Index: parts[k].at[r.Index], Reason: r.Reason})
			}
		case k == 1:
			return fmt.Errorf("backfill lane: %w", err)
		default:
			return err
		}
	}
	if len(refused) > 0 {
		return &RefusedError{Refused: refused}
	}
	return nil
}

// Receive takes what the live lane has visible, else what the backfill
// lane has, else long-polls the live lane for up to wait. A backfill
// message sent while a consumer long-polls is taken by its next Receive,
// at most wait later: backfill is throughput, the live lane is latency.
func (l *Lanes) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error) {
	return l.ReceiveMixed(ctx, max, max, wait, visibility)
}

// ReceiveMixed is Receive taking at most maxBackfill messages from the
// backfill lane: a consumer whose backfill messages each stand for many
// products (ranges) takes as much backfill work as one batch at a time.
func (l *Lanes) ReceiveMixed(ctx context.Context, max, maxBackfill int, wait, visibility time.Duration) ([]Message, error) {
	if !l.Split() {
		return l.receive(ctx, LaneLive, max, wait, visibility)
	}
	msgs, err := l.receive(ctx, LaneLive, max, 0, visibility)
	if len(msgs) > 0 || err != nil {
		return msgs, err
	}
	msgs, err = l.receive(ctx, LaneBackfill, min(max, maxBackfill), 0, visibility)
	if len(msgs) > 0 || err != nil || wait <= 0 {
		return msgs, err
	}
	return l.receive(ctx, LaneLive, max, wait, visibility)
}

// ReceiveLive long-polls the live lane alone, for a consumer that keeps
// a receiver free for live changes while its others work the backfill.
func (l *Lanes) ReceiveLive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error) {
	return l.receive(ctx, LaneLive, max, wait, visibility)
}

// receive receives from one lane and prefixes the receipts with it.
func (l *Lanes) receive(ctx context.Context, lane Lane, max int, wait, visibility time.Duration) ([]Message, error) {
	msgs, err := l.Lane(lane).Receive(ctx, max, wait, visibility)
	if err != nil && lane == LaneBackfill {
		err = fmt.Errorf("backfill lane: %w", err)
	}
	for i := range msgs {
		msgs[i].Lane = lane
		msgs[i].Receipt = string(lane) + "|" + msgs[i].Receipt
	}
	return msgs, err
}

// split sorts receipts by lane and strips their prefix.
func (l *Lanes) split(receipts []string) (map[Lane][]string, error) {
	out := map[Lane][]string{}
	for _, r := range receipts {
		lane, rest, ok := strings.Cut(r, "|")
		if !ok || (Lane(lane) != LaneLive && Lane(lane) != LaneBackfill) {
			return nil, fmt.Errorf("receipt %q names no lane", r)
		}
		out[Lane(lane)] = append(out[Lane(lane)], rest)
	}
	return out, nil
}

// Ack deletes received messages from their lanes.
func (l *Lanes) Ack(ctx context.Context, receipts []string) error {
	byLane, err := l.split(receipts)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	var errs []error
	for lane, rs := range byLane {
		errs = append(errs, l.Lane(lane).Ack(ctx, rs))
	}
	return errors.Join(errs...)
}

// Extend resets the visibility timeout of received messages in their lanes.
func (l *Lanes) Extend(ctx context.Context, receipts []string, visibility time.Duration) error {
	byLane, err := l.split(receipts)
	if err != nil {
		return fmt.Errorf("extend: %w", err)
	}
	var errs []error
	for lane, rs := range byLane {
		errs = append(errs, l.Lane(lane).Extend(ctx, rs, visibility))
	}
	return errors.Join(errs...)
}

// Depth is the sum of both lanes' backlogs.
func (l *Lanes) Depth(ctx context.Context) (Depth, error) {
	lanes, err := l.LaneDepths(ctx)
	var d Depth
	for _, ld := range lanes {
		d.Visible += ld.Visible
		d.InFlight += ld.InFlight
		d.Dead += ld.Dead
	}
	return d, err
}

// LaneDepths reports each lane's backlog, live first. Lanes sharing one
// queue report it all as live.
func (l *Lanes) LaneDepths(ctx context.Context) ([]LaneDepth, error) {
	d, err := l.live.Depth(ctx)
	if err != nil {
		return nil, err
	}
	out := []LaneDepth{{LaneLive, d}}
	if l.Split() {
		if d, err = l.backfill.Depth(ctx); err != nil {
			return nil, fmt.Errorf("backfill lane: %w", err)
		}
	} else {
		d = Depth{}
	}
	return append(out, LaneDepth{LaneBackfill, d}), nil
}

// Redrive moves each lane's dead-lettered messages back to that lane.
func (l *Lanes) Redrive(ctx context.Context) (int, error) {
	n, err := l.live.Redrive(ctx)
	if err != nil || !l.Split() {
		return n, err
	}
	m, err := l.backfill.Redrive(ctx)
	if err != nil {
		err = fmt.Errorf("backfill lane: %w", err)
	}
	return n + m, err
}
