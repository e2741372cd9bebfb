package queue_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/cloudsim"
	"github.com/refarch/refarch/queue"
)

// TestLanesSendRefusalsNameTheCallersPositions: a message refused by
// either lane's queue is reported at its position in the caller's batch,
// and the others of both lanes are sent.
func TestLanesSendRefusalsNameTheCallersPositions(t *testing.T) {
	live := cloudsim.NewQueue(cloudsim.NewMemQueue(5), cloudsim.SQSFIFO(true, cloudsim.Latency{}), 1)
	backfill := cloudsim.NewQueue(cloudsim.NewMemQueue(5), cloudsim.SQSFIFO(true, cloudsim.Latency{}), 1)
	q := queue.NewLanes(live, backfill)
	big := []byte(strings.Repeat("x", cloudsim.SQSMaxMessageBytes+1))
	msgs := []queue.Outgoing{
		{Group: "1", Body: []byte("ok"), Lane: queue.LaneBackfill},
		{Group: "2", Body: big, Lane: queue.LaneBackfill},
		{Group: "3", Body: []byte("ok")},
		{Group: "4", Body: big},
	}
	var re *queue.RefusedError
	if err := q.Send(t.Context(), msgs); !errors.As(err, &re) {
		t.Fatalf("send: %v, want a RefusedError", err)
	}
	var at []int
	for _, r := range re.Refused {
		at = append(at, r.Index)
	}
	slices.Sort(at)
	if !slices.Equal(at, []int{1, 3}) {
		t.Fatalf("refused positions %v, want [1 3]", at)
	}
	ds, err := q.LaneDepths(t.Context())
	if err != nil || ds[0].Visible != 1 || ds[1].Visible != 1 {
		t.Fatalf("lane depths %+v (%v), want one message sent on each lane", ds, err)
	}
}

// TestReceiveLaneTakesThatLaneAlone: a consumer busy with backfill asks
// for the backfill lane alone and is not given the live change waiting
// (Receive would give it first); lanes sharing one queue give what it has.
func TestReceiveLaneTakesThatLaneAlone(t *testing.T) {
	newQ := func() queue.Queue {
		return cloudsim.NewQueue(cloudsim.NewMemQueue(5), cloudsim.SQSFIFO(true, cloudsim.Latency{}), 1)
	}
	q := queue.NewLanes(newQ(), newQ())
	if err := q.Send(t.Context(), []queue.Outgoing{
		{Group: "1", Body: []byte("live")},
		{Group: "2", Body: []byte("backfill"), Lane: queue.LaneBackfill},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := q.ReceiveLane(t.Context(), queue.LaneBackfill, 10, 0, time.Minute)
	if err != nil || len(got) != 1 || string(got[0].Body) != "backfill" || got[0].Lane != queue.LaneBackfill ||
		!strings.HasPrefix(got[0].Receipt, "backfill|") {
		t.Fatalf("ReceiveLane(backfill) = %+v, %v; want the backfill message alone", got, err)
	}
	if err := q.Ack(t.Context(), []string{got[0].Receipt}); err != nil {
		t.Fatal(err)
	}
	if got, err = q.ReceiveLane(t.Context(), queue.LaneLive, 10, 0, time.Minute); err != nil || len(got) != 1 || string(got[0].Body) != "live" {
		t.Fatalf("ReceiveLane(live) = %+v, %v; want the live message", got, err)
	}

	shared := queue.NewLanes(newQ(), nil)
	if err := shared.Send(t.Context(), []queue.Outgoing{{Group: "3", Body: []byte("backfill"), Lane: queue.LaneBackfill}}); err != nil {
		t.Fatal(err)
	}
	if got, err = shared.ReceiveLane(t.Context(), queue.LaneBackfill, 10, 0, time.Minute); err != nil || len(got) != 1 || got[0].Lane != queue.LaneLive {
		t.Fatalf("ReceiveLane(backfill) on one shared queue = %+v, %v; want its message, on the live lane", got, err)
	}
}
