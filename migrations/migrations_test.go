package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/migrations"
)

func TestUpFreshThenAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewEmpty(t)
	if err := migrations.Check(ctx, pool); err == nil || !strings.Contains(err.Error(), "refarch migrate") {
		t.Fatalf("Check on an empty database = %v, want an error that says to run migrate", err)
	}
	applied, err := migrations.Up(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[len(applied)-1].Version != migrations.Latest() {
		t.Fatalf("applied %v, want up to %d", applied, migrations.Latest())
	}
	if err := migrations.Check(ctx, pool); err != nil {
		t.Fatalf("Check after Up: %v", err)
	}
	again, err := migrations.Up(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Up applied %v, err %v; want nothing", again, err)
	}
	for _, table := range []string{"products", "sync_outbox", "index_state"} {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migrate (err %v)", table, err)
		}
	}
}

func TestCheckRejectsOldSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if _, err := pool.Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, migrations.Latest()); err != nil {
		t.Fatal(err)
	}
	err := migrations.Check(ctx, pool)
	if err == nil || !strings.Contains(err.Error(), "run `refarch migrate`") {
		t.Fatalf("Check on an old schema = %v, want a message that says to run migrate", err)
	}
}

func TestNumbering(t *testing.T) {
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %s is number %d, want %d (no gaps)", m.Describe(), m.Version, i+1)
		}
	}
}
