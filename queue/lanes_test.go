package queue_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

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
