package scripts_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestClusterUsesHugePages checks that the cluster `make db` started (as
// root) keeps shared_buffers in huge pages: with 4 kB pages on this kind of
// virtual machine, /api/search at a million products and 8 clients took
// p50 515-898 ms instead of 62-71 ms (docs/deploy.md, "Huge pages").
func TestClusterUsesHugePages(t *testing.T) {
	if os.Getuid() != 0 || os.Getenv("DB_HUGE_PAGES") == "off" {
		t.Skip("SKIPPING: make db reserves huge pages only as root, and not with DB_HUGE_PAGES=off")
	}
	if f, err := os.OpenFile("/proc/sys/vm/nr_hugepages", os.O_WRONLY, 0); err != nil {
		t.Skipf("SKIPPING: the kernel's huge pages cannot be reserved here: %v", err)
	} else {
		f.Close()
	}
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		t.Skip("SKIPPING: TEST_DATABASE_URL is not set; run make db")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	var host string
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid(), coalesce(inet_server_addr()::text, '')`).Scan(&pid, &host); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(host, "127.0.0.1") {
		t.Skipf("SKIPPING: TEST_DATABASE_URL is not make db's local cluster (%s)", host)
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(maps), "anon_hugepage") {
		t.Fatalf("the cluster's shared memory is in 4 kB pages: make db reserves huge pages before the start (a cluster started before that needs make db-stop && make db)")
	}
}
