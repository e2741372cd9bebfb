// Package pgtest gives each test its own freshly migrated Postgres database,
// cloned from a template in milliseconds, on the server named by
// TEST_DATABASE_URL (written to .dev/env by `make db`). Tests never touch the
// `make run` database.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/migrations"
)

// AdminURL returns the URL of the server's maintenance database, from
// TEST_DATABASE_URL or the project's .dev/env.
func AdminURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	if u := fromDevEnv(); u != "" {
		return u
	}
	t.Fatal("no test database: run `make db` (or set TEST_DATABASE_URL to a Postgres with pgvector)")
	return ""
}

func fromDevEnv() string {
	dir, _ := os.Getwd()
	for ; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		f, err := os.Open(filepath.Join(dir, ".dev", "env"))
		if err != nil {
			continue
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "export TEST_DATABASE_URL="); ok {
				return strings.Trim(v, `'"`)
			}
		}
		return ""
	}
	return ""
}

// templateName changes whenever a migration changes, so an edited schema
// never hides behind an old template.
func templateName() (string, error) {
	ms, err := migrations.All()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s\n%s\n", m.Version, m.Name, m.SQL)
	}
	return "refarch_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// NewURL creates a new migrated database, dropped when the test ends, and
// returns its URL.
func NewURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := AdminURL(t)
	tmpl, err := templateName()
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(ctx, t, admin)
	defer conn.Close(ctx)
	if err := ensureTemplate(ctx, conn, admin, tmpl); err != nil {
		t.Fatal(err)
	}
	return createDatabase(ctx, t, conn, admin, "refarch_t_", "TEMPLATE "+tmpl)
}

// New creates a new migrated database and returns a pool on it, closed when
// the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return open(t, NewURL(t))
}

// NewEmpty creates a database with no schema at all, for migration tests.
func NewEmpty(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := AdminURL(t)
	conn := connect(ctx, t, admin)
	defer conn.Close(ctx)
	return open(t, createDatabase(ctx, t, conn, admin, "refarch_e_", ""))
}

func connect(ctx context.Context, t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to test server (is `make db` running?): %v", err)
	}
	return conn
}

func open(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// createDatabase creates a database with a random name after prefix (with
// options such as a TEMPLATE), drops it when the test ends, and returns its
// URL.
func createDatabase(ctx context.Context, t testing.TB, conn *pgx.Conn, admin, prefix, options string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name+` `+options); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin, tmpl string) error {
	// Test binaries of several packages run at once: one builds the template.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727202)`); err != nil {
		return fmt.Errorf("lock template: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(727202)`) //nolint:errcheck // the lock ends with the connection anyway
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		return fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return nil
	}
	building := tmpl + "_build"
	conn.Exec(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`) //nolint:errcheck // CREATE below reports a real problem
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+building); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	pool, err := pgxpool.New(ctx, withDatabase(admin, building))
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS vector`)
	if err == nil {
		_, err = migrations.Up(ctx, pool)
	}
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, tmpl)); err != nil {
		return fmt.Errorf("rename template: %w", err)
	}
	return nil
}

// withDatabase is the Postgres URL u with its database replaced by name.
func withDatabase(u, name string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	parsed.Path = "/" + name
	return parsed.String()
}

// AsUser is a database URL u logged in as user instead, for running a role
// as its own Postgres user (refarch_serve, refarch_pelican, refarch_emu,
// created by the migrations) so that a missing grant fails the test.
func AsUser(u, user string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	parsed.User = url.User(user)
	return parsed.String()
}
