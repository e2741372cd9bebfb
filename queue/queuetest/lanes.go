package queuetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/queue"
)

// NewLanes returns a new, empty two-lane queue (queue.Lanes) whose lanes
// dead-letter a message on the receive after its maxReceives-th.
type NewLanes func(t *testing.T, maxReceives int) *queue.Lanes

// RunLanes runs the suite on the live lane of a two-lane queue (every
// message that names no lane travels on it, so the lanes change nothing for
// a producer that knows none) and then the lane tests: the live lane is
// served first whatever the backfill holds, the lanes are independent FIFO
// queues (a product's live change never waits behind its backfill message),
// and receipts, depth and dead letters stay with their lane.
func RunLanes(t *testing.T, newLanes NewLanes, opts ...Option) {
	t.Run("LiveLane", func(t *testing.T) {
		t.Parallel()
		Run(t, func(t *testing.T, maxReceives int) queue.Queue { return newLanes(t, maxReceives) }, opts...)
	})
	tests := []struct {
		name string
		fn   func(t *testing.T, newLanes NewLanes)
	}{
		{"LiveFirst", testLiveFirst},
		{"LanesAreIndependentQueues", testLanesIndependent},
		{"ReceiptsAndDepthStayInTheirLane", testLaneReceipts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newLanes)
		})
	}
}

func inLane(lane queue.Lane, msgs ...queue.Outgoing) []queue.Outgoing {
	for i := range msgs {
		msgs[i].Lane = lane
	}
	return msgs
}

func laneDepths(t *testing.T, q *queue.Lanes) map[queue.Lane]queue.Depth {
	t.Helper()
	ds, err := q.LaneDepths(testContext(t))
	if err != nil {
		t.Fatalf("lane depths: %v", err)
	}
	out := map[queue.Lane]queue.Depth{}
	for _, d := range ds {
		out[d.Lane] = d.Depth
	}
	return out
}

// testLiveFirst: with a backfill backlog queued first, a live message is
// the next one received, and the backlog follows once the live lane is
// empty.
func testLiveFirst(t *testing.T, newLanes NewLanes) {
	q := newLanes(t, 5)
	var backlog []queue.Outgoing
	for i := range 30 {
		backlog = append(backlog, msg(fmt.Sprintf("b%d", i), i))
	}
	send(t, q, inLane(queue.LaneBackfill, backlog...)...)
	// Let the backlog be visible on every backend before the live message.
	waitLane(t, q, queue.LaneBackfill, 30)
	send(t, q, msg("live", 1))
	got := receive(t, q, 10, 5*time.Second, 30*time.Second)
	if len(got) != 1 || string(got[0].Body) != string(msg("live", 1).Body) || got[0].Lane != queue.LaneLive {
		t.Fatalf("first receive got %q (lane %v), want only the live message", bodies(got), lanesOf(got))
	}
	ack(t, q, got...)
	rest := receiveN(t, q, 30, 30*time.Second)
	for _, m := range rest {
		if m.Lane != queue.LaneBackfill {
			t.Fatalf("message %s came from lane %q, want backfill", m.Body, m.Lane)
		}
	}
	ack(t, q, rest...)
	waitDepth(t, q, queue.Depth{})
}

func lanesOf(msgs []queue.Message) []queue.Lane {
	out := make([]queue.Lane, len(msgs))
	for i, m := range msgs {
		out[i] = m.Lane
	}
	return out
}

// waitLane waits until lane shows n visible messages.
func waitLane(t *testing.T, q *queue.Lanes, lane queue.Lane, n int) {
	t.Helper()
	testkit.WaitFor(t, limit, func() string {
		if d := laneDepths(t, q)[lane]; d.Visible < n {
			return fmt.Sprintf("lane %s shows %+v, want %d visible", lane, d, n)
		}
		return ""
	})
}

// testLanesIndependent: a group with a message in flight on the backfill
// lane still delivers its live message. (Whether a deduplication id spans
// the lanes is the backend's: two SQS queues keep theirs apart, the
// Postgres queue shares them.)
func testLanesIndependent(t *testing.T, newLanes NewLanes) {
	q := newLanes(t, 5)
	send(t, q, inLane(queue.LaneBackfill, msg("p1", 1))...)
	held := receive(t, q, 10, 5*time.Second, 60*time.Second)
	if len(held) != 1 || held[0].Lane != queue.LaneBackfill {
		t.Fatalf("got %q, want the backfill message", bodies(held))
	}
	send(t, q, msg("p1", 2))
	got := receive(t, q, 10, 5*time.Second, 60*time.Second)
	if len(got) != 1 || got[0].Lane != queue.LaneLive || got[0].Group != "p1" {
		t.Fatalf("got %q (lanes %v), want p1's live message although its backfill message is in flight", bodies(got), lanesOf(got))
	}
	ack(t, q, append(held, got...)...)
	waitDepth(t, q, queue.Depth{})
}

// testLaneReceipts: Extend and Ack act on the lane the receipt came from,
// and each lane reports its own depth.
func testLaneReceipts(t *testing.T, newLanes NewLanes) {
	q := newLanes(t, 5)
	send(t, q, msg("l1", 1))
	send(t, q, inLane(queue.LaneBackfill, msg("b1", 1), msg("b2", 1))...)
	waitLane(t, q, queue.LaneBackfill, 2)
	live := receive(t, q, 10, 5*time.Second, 60*time.Second)
	back := receiveN(t, q, 2, 60*time.Second)
	if len(live) != 1 || live[0].Lane != queue.LaneLive {
		t.Fatalf("got %q, want the live message first", bodies(live))
	}
	waitLaneDepths(t, q, map[queue.Lane]queue.Depth{queue.LaneLive: {InFlight: 1}, queue.LaneBackfill: {InFlight: 2}})
	// Release one backfill message and acknowledge the rest.
	if err := q.Extend(testContext(t), receipts(back[:1]), 0); err != nil {
		t.Fatalf("extend: %v", err)
	}
	ack(t, q, live...)
	ack(t, q, back[1:]...)
	waitLaneDepths(t, q, map[queue.Lane]queue.Depth{queue.LaneLive: {}, queue.LaneBackfill: {Visible: 1}})
	again := receiveN(t, q, 1, 60*time.Second)
	if string(again[0].Body) != string(back[0].Body) || again[0].Lane != queue.LaneBackfill {
		t.Fatalf("got %q back, want the released backfill message %q", again[0].Body, back[0].Body)
	}
	ack(t, q, again...)
	waitDepth(t, q, queue.Depth{})
	if err := q.Ack(testContext(t), []string{"no-lane-receipt"}); err == nil {
		t.Fatal("ack of a receipt that names no lane succeeded, want an error")
	}
}

func waitLaneDepths(t *testing.T, q *queue.Lanes, want map[queue.Lane]queue.Depth) {
	t.Helper()
	testkit.WaitFor(t, limit, func() string {
		got := laneDepths(t, q)
		for lane, d := range want {
			if got[lane] != d {
				return fmt.Sprintf("lane depths %+v, want %+v", got, want)
			}
		}
		return ""
	})
}
