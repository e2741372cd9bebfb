package pgqueue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
)

// TestDepthReadsOnlyTheHead: with three times DepthHead messages queued
// (a bootstrap's backlog in miniature), Depth's statement reads at most
// DepthHead of them, whatever the backlog, and still reports it exactly.
func TestDepthReadsOnlyTheHead(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	for _, lane := range []queue.Lane{queue.LaneLive, queue.LaneBackfill} {
		q := pgqueue.New(pool, pgqueue.Options{Lane: lane})
		defer q.Close()
		n := 3 * pgqueue.DepthHead
		msgs := make([]queue.Outgoing, n)
		for i := range msgs {
			msgs[i] = queue.Outgoing{Group: fmt.Sprint(i), DedupID: fmt.Sprint(lane, i), Body: []byte(`{"a product":"of some size"}`)}
		}
		if err := q.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		got, err := q.Receive(ctx, 10, 0, time.Hour)
		if err != nil || len(got) != 10 {
			t.Fatalf("receive: %d messages, %v", len(got), err)
		}
		if d, err := q.Depth(ctx); err != nil || d != (queue.Depth{Visible: n - 10, InFlight: 10}) {
			t.Fatalf("%s lane: depth %+v, %v; want %d visible, 10 in flight", lane, d, err, n-10)
		}
		var plan []map[string]any
		var raw []byte
		if err := pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+pgqueue.DepthSQL(q), string(lane), pgqueue.DepthHead).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		table := map[queue.Lane]string{queue.LaneLive: "queue_messages", queue.LaneBackfill: "queue_backfill"}[lane]
		if read := rowsRead(plan[0]["Plan"].(map[string]any), table); read > pgqueue.DepthHead {
			t.Errorf("%s lane: Depth read %d rows of %s with %d queued, want at most %d", lane, read, table, n, pgqueue.DepthHead)
		}
	}
}

// rowsRead sums the rows the plan's nodes on table produced (and filtered
// out), over every loop.
func rowsRead(node map[string]any, table string) int {
	total := 0
	if node["Relation Name"] == table {
		loops, _ := node["Actual Loops"].(float64)
		rows, _ := node["Actual Rows"].(float64)
		removed, _ := node["Rows Removed by Filter"].(float64)
		total += int((rows + removed) * loops)
	}
	children, _ := node["Plans"].([]any)
	for _, c := range children {
		total += rowsRead(c.(map[string]any), table)
	}
	return total
}

// TestDepthCountsStayExact runs random sends, receives, acks, releases,
// dead-lettering, redrives and truncations on both lanes, with depth reads
// (which compact the counts) in between, and compares each lane's depth
// with a full count after every step.
func TestDepthCountsStayExact(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	lanes, closeFn := pgqueue.NewLanes(pool, pgqueue.Options{MaxReceives: 2})
	defer closeFn()
	rng := rand.New(rand.NewPCG(12, 5))
	held := map[queue.Lane][]string{}
	seq := 0
	for step := range 400 {
		lane := []queue.Lane{queue.LaneLive, queue.LaneBackfill}[rng.IntN(2)]
		q := lanes.Lane(lane)
		switch op := rng.IntN(10); {
		case op < 4:
			msgs := make([]queue.Outgoing, 1+rng.IntN(30))
			for i := range msgs {
				seq++
				// Few groups, so some messages wait behind their group's head.
				msgs[i] = queue.Outgoing{Group: fmt.Sprint(rng.IntN(20)), DedupID: fmt.Sprint(seq), Body: []byte("x"), Lane: lane}
			}
			if err := q.Send(ctx, msgs); err != nil {
				t.Fatal(err)
			}
		case op < 6:
			got, err := q.Receive(ctx, 1+rng.IntN(10), 0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range got {
				held[lane] = append(held[lane], m.Receipt)
			}
		case op < 8 && len(held[lane]) > 0:
			k := 1 + rng.IntN(len(held[lane]))
			var err error
			if rng.IntN(2) == 0 {
				err = q.Ack(ctx, held[lane][:k])
			} else {
				err = q.Extend(ctx, held[lane][:k], 0) // released: received again, or dead-lettered
			}
			if err != nil {
				t.Fatal(err)
			}
			held[lane] = held[lane][k:]
		case op == 8:
			if _, err := q.Redrive(ctx); err != nil {
				t.Fatal(err)
			}
		case op == 9 && rng.IntN(10) == 0:
			table := map[queue.Lane]string{queue.LaneLive: "queue_messages", queue.LaneBackfill: "queue_backfill"}[lane]
			if _, err := pool.Exec(ctx, "TRUNCATE "+table); err != nil {
				t.Fatal(err)
			}
			held[lane] = nil
		}
		for _, l := range []queue.Lane{queue.LaneLive, queue.LaneBackfill} {
			got, err := lanes.Lane(l).Depth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := fullCount(ctx, t, pool, l); got != want {
				t.Fatalf("step %d, %s lane: depth %+v, a full count says %+v", step, l, got, want)
			}
		}
	}
	var deltas int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM queue_depth_deltas`).Scan(&deltas); err != nil || deltas > 2*(64+2) {
		t.Fatalf("%d depth delta rows (%v): the reads do not compact them", deltas, err)
	}
}

func fullCount(ctx context.Context, t *testing.T, pool *pgxpool.Pool, lane queue.Lane) queue.Depth {
	t.Helper()
	table := map[queue.Lane]string{queue.LaneLive: "queue_messages", queue.LaneBackfill: "queue_backfill"}[lane]
	var d queue.Depth
	err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE visible_at <= now()), count(*) FILTER (WHERE visible_at > now()),
		(SELECT count(*) FROM queue_dead WHERE lane = $1) FROM `+table, string(lane)).Scan(&d.Visible, &d.InFlight, &d.Dead)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
