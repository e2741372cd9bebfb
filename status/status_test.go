package status_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/status"
)

func TestGetAndProductStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	const model = "m1"
	var ids []int64
	rows, err := pool.Query(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, 'D' || g, 1 FROM generate_series(1, 6) g RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`UPDATE products SET name = name || 'x' WHERE id = $1`, ids[2]) // version 2
	exec(`INSERT INTO index_state (model, product_id, version, content_hash, changed_at) VALUES
		($1, $2, 1, 'h', now()), ($1, $3, 1, 'h', now()), ($1, $4, 1, 'h', now()), ($1, $5, 0, '', now()),
		($1, 999999, 3, 'h', now()), ('other', $6, 1, 'h', now())`, model, ids[0], ids[1], ids[2], ids[3], ids[5])
	exec(`INSERT INTO index_failures (model, product_id, version, error, receive_count) VALUES ($1, $2, 1, 'boom', 5)`, model, ids[4])

	s, err := status.Get(ctx, pool, nil, model)
	if err != nil {
		t.Fatal(err)
	}
	want := status.Status{Model: model, Products: 6, Indexed: 2, Stale: 1, Missing: 3, DeletePending: 1, Failed: 1, Outbox: 7}
	got := s
	got.OldestUnindexedAgeSeconds = 0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status\n got %+v\nwant %+v", got, want)
	}
	if s.OldestUnindexedAgeSeconds <= 0 || s.InSync() {
		t.Fatalf("age %v, in sync %v: want a positive age, out of sync", s.OldestUnindexedAgeSeconds, s.InSync())
	}

	// The JSON object keeps the names tools and tests rely on.
	b, _ := json.Marshal(s)
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"products", "indexed", "stale", "outbox", "queue", "oldest_unindexed_age_seconds"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status JSON %s lacks %q", b, k)
		}
	}
	q, _ := m["queue"].(map[string]any)
	for _, k := range []string{"visible", "in_flight", "dead"} {
		if _, ok := q[k]; !ok {
			t.Errorf("status JSON queue %v lacks %q", q, k)
		}
	}

	// A dead-lettered catch-up range fails what it holds that the index
	// lacks (queuemsg.RangeGroup), not what the index holds.
	exec(`INSERT INTO queue_dead (id, group_id, body, sent_at, receive_count, lane) VALUES (1, $1, '', now(), 5, 'backfill')`,
		queuemsg.RangeGroup(ids[5], ids[5]))
	exec(`INSERT INTO queue_dead (id, group_id, body, sent_at, receive_count, lane) VALUES (2, $1, '', now(), 5, 'backfill')`,
		queuemsg.RangeGroup(ids[0], ids[1]))
	states, err := status.ProductStates(ctx, pool, model, append(ids, 424242))
	if err != nil {
		t.Fatal(err)
	}
	wantStates := map[int64]string{ids[0]: "indexed", ids[1]: "indexed", ids[2]: "indexing", ids[3]: "indexing",
		ids[4]: "failed", ids[5]: "failed"}
	if len(states) != len(wantStates) {
		t.Fatalf("states %v, want %v", states, wantStates)
	}
	for id, w := range wantStates {
		if states[id] != w {
			t.Errorf("product %d is %q, want %q", id, states[id], w)
		}
	}
}

// An outage emu records shows in status and in its JSON as
// outage: {component, since, error}; none is null.
func TestOutageInStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	s, err := status.Get(ctx, pool, nil, "m")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(s); s.Outage != nil || !strings.Contains(string(b), `"outage":null`) {
		t.Fatalf("status without an outage: %s", b)
	}
	if err := indexstate.New(pool, "m").RecordOutage(ctx, indexstate.ComponentVectorStore, "relation does not exist"); err != nil {
		t.Fatal(err)
	}
	s, err = status.Get(ctx, pool, nil, "m")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	var m struct {
		Outage map[string]any `json:"outage"`
	}
	json.Unmarshal(b, &m)
	if m.Outage["component"] != "vector_store" || m.Outage["error"] != "relation does not exist" || m.Outage["since"] == nil {
		t.Fatalf("status JSON outage: %s", b)
	}
}

// TestStatusShowsEachLane proves that status splits the queue's depth by
// lane (live changes and backfill) and that the total is their sum.
func TestStatusShowsEachLane(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	lanes, closeQueue := pgqueue.NewLanes(pool, pgqueue.Options{})
	t.Cleanup(closeQueue)
	msgs := []queue.Outgoing{
		{Group: "1", Body: []byte("a")},
		{Group: "2", Body: []byte("b"), Lane: queue.LaneBackfill},
		{Group: "3", Body: []byte("c"), Lane: queue.LaneBackfill},
	}
	if err := lanes.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	s, err := status.Get(ctx, pool, lanes, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := map[queue.Lane]queue.Depth{queue.LaneLive: {Visible: 1}, queue.LaneBackfill: {Visible: 2}}
	if !reflect.DeepEqual(s.QueueLanes, want) || s.Queue != (queue.Depth{Visible: 3}) {
		t.Fatalf("queue %+v, lanes %+v; want visible 3 and lanes %+v", s.Queue, s.QueueLanes, want)
	}
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), `"queue_lanes":{"backfill":{"visible":2,"in_flight":0,"dead":0},"live":{"visible":1,"in_flight":0,"dead":0}}`) {
		t.Fatalf("status JSON %s lacks both lanes", b)
	}
}
