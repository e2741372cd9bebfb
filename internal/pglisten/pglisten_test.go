package pglisten

import (
	"context"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
)

// TestWakesAndReconnects: a notification wakes the owner; a killed
// connection is replaced, reported, and wakes the owner once more; cancel
// stops Run.
func TestWakesAndReconnects(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	l, err := Listen(ctx, pool.Config(), "pglisten_test")
	if err != nil {
		t.Fatal(err)
	}
	reconnected := make(chan struct{}, 1)
	l.Reconnected = func() { reconnected <- struct{}{} }
	wakes := make(chan struct{}, 8)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(runCtx, func() { wakes <- struct{}{} })
	}()
	wait := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}

	if _, err := pool.Exec(ctx, `SELECT pg_notify('pglisten_test', '')`); err != nil {
		t.Fatal(err)
	}
	wait(wakes, "a wake-up after NOTIFY")

	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN pglisten_test'`); err != nil {
		t.Fatal(err)
	}
	wait(reconnected, "the reconnect")
	wait(wakes, "the wake-up after the reconnect")
	if _, err := pool.Exec(ctx, `SELECT pg_notify('pglisten_test', '')`); err != nil {
		t.Fatal(err)
	}
	wait(wakes, "a wake-up after NOTIFY on the new connection")

	stop()
	wait(done, "Run to return after cancel")
}
