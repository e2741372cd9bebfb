package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/internal/pgtest"
)

// run executes the real root command with args and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// queryInt runs a query that returns one integer.
func queryInt(t *testing.T, url, query string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSeedAndImportCommands walks the commands `make run` uses on a fresh
// database: migrate, seed --if-empty (twice: the second does nothing), then
// import of the seed system's CSV, which upserts by SKU.
func TestSeedAndImportCommands(t *testing.T) {
	t.Parallel()
	url := pgtest.NewURL(t)

	if out, err := run(t, "migrate", "--database-url", url); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := run(t, "seed", "--if-empty", "--count", "500", "--database-url", url)
	if err != nil || !strings.Contains(out, "seeded 500 products") {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	out, err = run(t, "seed", "--if-empty", "--database-url", url)
	if err != nil || !strings.Contains(out, "already has 500 products") {
		t.Fatalf("seed --if-empty on a seeded table: %v\n%s", err, out)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM products`); n != 500 {
		t.Fatalf("products after seeding = %d, want 500", n)
	}

	csv := filepath.Join(t.TempDir(), "p.csv")
	body := "name,sku,description,price,last_updated\n" +
		"Steel thermos,SKU-T1,Keeps drinks hot all day,$24.99,2023-09-20 22:51:32\n" +
		"Garden hose,SKU-T2,Fifty feet of hose,oops,2023-09-20 22:51:32\n"
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "import", "--csv", csv, "--database-url", url)
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import of a file with a bad row: err=%v\n%s", err, out)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM products`); n != 500 {
		t.Fatalf("a refused import changed the table: %d products, want 500", n)
	}
	out, err = run(t, "import", "--csv", csv, "--skip-invalid", "--database-url", url)
	if err != nil || !strings.Contains(out, "rejected line 3") || !strings.Contains(out, "1 inserted") {
		t.Fatalf("import --skip-invalid: %v\n%s", err, out)
	}
	out, err = run(t, "import", "--csv", csv, "--skip-invalid", "--database-url", url)
	if err != nil || !strings.Contains(out, "0 inserted, 0 updated, 1 unchanged") {
		t.Fatalf("re-import is not idempotent: %v\n%s", err, out)
	}
	if n := queryInt(t, url, `SELECT (price * 100)::int FROM products WHERE sku = 'SKU-T1'`); n != 2499 {
		t.Fatalf("imported price = %d cents, want 2499", n)
	}
}
