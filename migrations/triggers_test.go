package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
)

type outboxRow struct {
	ProductID int64
	Op        string
	Version   int64
	HasOld    bool
	HasNew    bool
}

func TestTriggersVersionAndOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	readOutbox := func() []outboxRow {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT product_id, op, version, old_row IS NOT NULL, new_row IS NOT NULL FROM sync_outbox ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []outboxRow
		for rows.Next() {
			var r outboxRow
			if err := rows.Scan(&r.ProductID, &r.Op, &r.Version, &r.HasOld, &r.HasNew); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	version := func(id int64) int64 {
		t.Helper()
		var v int64
		if err := pool.QueryRow(ctx, `SELECT version FROM products WHERE id = $1`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	var id int64
	// A client-supplied version is ignored: inserts start at 1.
	if err := pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price, category, version)
		VALUES ('T-1', 'Thermos', 'keeps drinks hot', 19.99, 'kitchen', 42) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if v := version(id); v != 1 {
		t.Fatalf("version after insert = %d, want 1", v)
	}
	exec(`UPDATE products SET price = 24.99 WHERE id = $1`, id)
	if v := version(id); v != 2 {
		t.Fatalf("version after update = %d, want 2", v)
	}
	// An update that changes nothing keeps the version and writes no outbox row.
	exec(`UPDATE products SET price = 24.99, name = 'Thermos' WHERE id = $1`, id)
	if v := version(id); v != 2 {
		t.Fatalf("version after no-op update = %d, want 2", v)
	}
	// Clients cannot move the version themselves.
	exec(`UPDATE products SET version = 1, description = 'keeps coffee hot all day' WHERE id = $1`, id)
	if v := version(id); v != 3 {
		t.Fatalf("version after update that sets version = %d, want 3", v)
	}
	// Several changes in one transaction: one outbox row each.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Exec(ctx, `UPDATE products SET category = 'outdoors' WHERE id = $1`, id)
	tx.Exec(ctx, `DELETE FROM products WHERE id = $1`, id)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// A rolled-back change leaves no trace.
	tx, _ = pool.Begin(ctx)
	tx.Exec(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('T-2', 'x', 'y', 1)`)
	tx.Rollback(ctx)

	got := readOutbox()
	want := []outboxRow{
		{id, "insert", 1, false, true},
		{id, "update", 2, true, true},
		{id, "update", 3, true, true},
		{id, "update", 4, true, true},
		{id, "delete", 5, true, false},
	}
	if len(got) != len(want) {
		t.Fatalf("outbox = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("outbox[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestTriggersRejectBadRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	for _, sql := range []string{
		`INSERT INTO products (sku, name, description, price) VALUES ('N-1', 'x', 'y', -0.01)`,
		`INSERT INTO products (sku, name, description, price) VALUES ('', 'x', 'y', 1)`,
		`INSERT INTO products (sku, name, description, price) VALUES ('N-2', '', 'y', 1)`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s: accepted, want a constraint error", sql)
		}
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM sync_outbox`).Scan(&n)
	if n != 0 {
		t.Errorf("rejected rows wrote %d outbox rows", n)
	}
}

func TestNotifyIsAWakeUpOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN refarch_outbox`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('W-1', 'x', 'y', 1)`); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Payload != "" {
		t.Errorf("notification payload = %q, want empty (a wake-up carries no row data)", n.Payload)
	}
}

// Issue 11 (4): TRUNCATE queues a delete for every row it removes, and an id
// used again after RESTART IDENTITY (or a DELETE and a sequence reset)
// continues above the version of its delete, so the index, which holds that
// delete, does not skip the new product.
func TestTruncateQueuesDeletesAndReusedIdsContinue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO products (sku, name, description, price) SELECT 'S' || g, 'N', 'D', 1 FROM generate_series(1, 3) g`)
	exec(`UPDATE products SET name = 'N2' WHERE id = 2`) // version 2
	exec(`DELETE FROM sync_outbox`)
	exec(`TRUNCATE products RESTART IDENTITY`)
	rows, err := pool.Query(ctx, `SELECT product_id, op, version FROM sync_outbox ORDER BY product_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []outboxRow
	for rows.Next() {
		var r outboxRow
		rows.Scan(&r.ProductID, &r.Op, &r.Version)
		got = append(got, r)
	}
	rows.Close()
	want := []outboxRow{{ProductID: 1, Op: "delete", Version: 2}, {ProductID: 2, Op: "delete", Version: 3}, {ProductID: 3, Op: "delete", Version: 2}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("outbox after TRUNCATE = %+v, want %+v", got, want)
	}

	// The ids come back: each continues one past its delete.
	exec(`INSERT INTO products (sku, name, description, price) SELECT 'R' || g, 'N', 'D', 1 FROM generate_series(1, 4) g`)
	versions := map[int64]int64{}
	rows, _ = pool.Query(ctx, `SELECT id, version FROM products`)
	for rows.Next() {
		var id, v int64
		rows.Scan(&id, &v)
		versions[id] = v
	}
	rows.Close()
	if versions[1] != 3 || versions[2] != 4 || versions[3] != 3 || versions[4] != 1 {
		t.Fatalf("versions of reused ids = %v, want 1:3 2:4 3:3 4:1", versions)
	}

	// A DELETE and a sequence reset work the same way.
	exec(`DELETE FROM products WHERE id = 4`)
	exec(`SELECT setval(pg_get_serial_sequence('products', 'id'), 3)`)
	var v int64
	if err := pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('X', 'N', 'D', 1) RETURNING version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != 3 {
		t.Fatalf("version of id 4 reused after DELETE = %d, want 3", v)
	}
}
