package cmd

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
)

// TestOperatorCommands runs status, dlq and reconcile through the root on a
// table nothing has indexed yet, with one dead-lettered message: the status
// object keeps the names tools rely on, the DLQ is listed and redriven, and
// reconcile reports the gap, fails without --repair and enqueues fixes with it.
func TestOperatorCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewURL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `INSERT INTO products (sku, name, description, price)
		SELECT 'S' || g, 'N' || g, 'D' || g, 1 FROM generate_series(1, 3) g`); err != nil {
		t.Fatal(err)
	}
	// A message received once with a receive limit of one is dead-lettered
	// by the next receive.
	q := pgqueue.New(pool, pgqueue.Options{MaxReceives: 1})
	t.Cleanup(func() { q.Close() })
	if err := q.Send(ctx, []queue.Outgoing{{Group: "1", DedupID: "1-1", Body: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := q.Receive(ctx, 1, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	flags := []string{"--database-url", url, "--embedder", "hash"}
	cmd := func(args ...string) (string, error) { return run(t, append(args, flags...)...) }

	out, err := cmd("status", "--json")
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var s struct {
		Products, Indexed, Stale, Outbox *int64
		Queue                            *struct {
			Visible, Dead *int64
			InFlight      *int64 `json:"in_flight"`
		}
		Age *float64 `json:"oldest_unindexed_age_seconds"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	if s.Products == nil || *s.Products != 3 || s.Indexed == nil || *s.Indexed != 0 || s.Stale == nil || *s.Stale != 0 ||
		s.Outbox == nil || *s.Outbox != 3 || s.Age == nil || *s.Age < 0 || s.Queue == nil ||
		s.Queue.Visible == nil || *s.Queue.Visible != 0 || s.Queue.InFlight == nil || s.Queue.Dead == nil || *s.Queue.Dead != 1 {
		t.Fatalf("status --json printed %s; want 3 products, none indexed or stale, 3 in the outbox, 1 dead", out)
	}
	if !strings.Contains(out, `"outage":null`) {
		t.Fatalf("status --json printed %s; want \"outage\":null", out)
	}
	if out, err := cmd("status"); err != nil || !regexp.MustCompile(`(?m)^in sync +no$`).MatchString(out) {
		t.Fatalf("status: %v\n%s", err, out)
	}
	// An outage emu records is shown by both forms.
	if _, err := pool.Exec(ctx, `INSERT INTO index_outages (model, component, error) VALUES ('hash-v1-64', 'vector_store', 'permission denied')`); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd("status"); err != nil || !regexp.MustCompile(`(?m)^outage +vector_store since .*: permission denied$`).MatchString(out) {
		t.Fatalf("status during an outage: %v\n%s", err, out)
	}
	if out, err := cmd("status", "--json"); err != nil || !strings.Contains(out, `"outage":{"component":"vector_store"`) {
		t.Fatalf("status --json during an outage: %v\n%s", err, out)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM index_outages`); err != nil {
		t.Fatal(err)
	}

	if out, err := cmd("dlq", "list"); err != nil || !strings.Contains(out, "dead messages in the queue: 1") {
		t.Fatalf("dlq list: %v\n%s", err, out)
	}
	if out, err := cmd("dlq", "redrive"); err != nil || !strings.Contains(out, "redrove 1 messages") {
		t.Fatalf("dlq redrive: %v\n%s", err, out)
	}
	if d, err := q.Depth(ctx); err != nil || d.Dead != 0 || d.Visible != 1 {
		t.Fatalf("after redrive the queue is %+v (%v), want the message visible again", d, err)
	}

	var r struct {
		Products      int `json:"products"`
		VectorMissing int `json:"vector_missing"`
		Enqueued      int `json:"enqueued"`
	}
	out, err = cmd("reconcile")
	if err == nil || !strings.Contains(err.Error(), "out of sync") {
		t.Fatalf("reconcile of an empty index: err=%v, want out of sync\n%s", err, out)
	}
	if err := jsonIn(out, &r); err != nil || r.Products != 3 || r.VectorMissing != 3 || r.Enqueued != 0 {
		t.Fatalf("reconcile printed %s (%v); want 3 products, 3 vectors missing, nothing enqueued", out, err)
	}
	// Progress: rows checked of the table's count, the rate and what is left.
	if !regexp.MustCompile(`reconcile: 3 of 3 products checked \(100\.0%\), \d+/s, about 0s left, 3 out of sync`).MatchString(out) {
		t.Fatalf("reconcile's progress lines: %s", out)
	}
	out, err = cmd("reconcile", "--repair")
	if err != nil {
		t.Fatalf("reconcile --repair: %v\n%s", err, out)
	}
	if err := jsonIn(out, &r); err != nil || r.Enqueued != 3 {
		t.Fatalf("reconcile --repair printed %s (%v); want 3 enqueued", out, err)
	}
	// Repairs travel on the backfill lane, so live changes do not wait behind them.
	if d, err := q.Depth(ctx); err != nil || d.Visible != 1 {
		t.Fatalf("after repair the live lane is %+v (%v), want only the redriven message", d, err)
	}
	backfill := pgqueue.New(pool, pgqueue.Options{Lane: queue.LaneBackfill})
	if d, err := backfill.Depth(ctx); err != nil || d.Visible != 3 {
		t.Fatalf("after repair the backfill lane is %+v (%v), want the 3 repairs", d, err)
	}
}

// jsonIn decodes the JSON object in out, after the progress lines.
func jsonIn(out string, v any) error {
	return json.NewDecoder(strings.NewReader(out[max(0, strings.Index(out, "{")):])).Decode(v)
}
