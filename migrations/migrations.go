// Package migrations holds the numbered SQL schema, embedded in the binary,
// and applies it. Roles call Check so that they refuse to run on an old schema.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed *.up.sql
var files embed.FS

// lockKey serialises concurrent migrators (several tasks starting at once).
const lockKey = 7_262_021_001

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// All returns the embedded migrations in order. They are read and checked
// once; Check, which readiness probes call, only compares numbers.
func All() ([]Migration, error) {
	ms, err := loaded()
	return slices.Clone(ms), err
}

var loaded = sync.OnceValues(load)

func load() ([]Migration, error) {
	names, err := fs.Glob(files, "*.up.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	for _, n := range names {
		num, rest, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.up.sql", n)
		}
		b, err := fs.ReadFile(files, n)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", n, err)
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(rest, ".up.sql"), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", ms[i].Version)
		}
	}
	return ms, nil
}

// Latest is the version the code expects.
func Latest() int {
	ms, err := loaded()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Up applies every migration not yet applied, each in its own transaction,
// and returns the ones it applied. Running it again applies nothing.
func Up(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	ms, err := All()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck // the lock ends with the connection anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := currentVersion(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %03d_%s: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func currentVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Check returns an error telling the operator to run migrate when the
// database schema is older (or newer) than this binary expects.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	want := Latest()
	if !exists {
		return fmt.Errorf("database has no schema (want version %d): run `refarch migrate` first", want)
	}
	have, err := currentVersion(ctx, pool)
	if err != nil {
		return err
	}
	switch {
	case have < want:
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `refarch migrate` first", have, want)
	}
	// A newer schema is fine: migrations only expand (see ExpandOnly), so the previous release
	// keeps working on it, which is what lets it serve during a rolling deploy and after ECS rolls
	// a failed release back once that release's migrations have run.
	return nil
}

// contractMarker opens a migration that is allowed to remove or change what an earlier release
// used. It must name the first release that no longer uses it, and go out at least one release
// after that one (docs/deploy.md, "Migrations: expand, then contract").
var contractMarker = regexp.MustCompile(`(?m)^-- contract: unused since (v[0-9][0-9.]*)\s*$`)

// destructive matches statements the previous release could fail on: dropped or renamed tables
// and columns, changed column types, and new constraints that its writes may not meet.
var destructive = []*regexp.Regexp{
	regexp.MustCompile(`(?is)\bDROP\s+(TABLE|COLUMN|VIEW|FUNCTION|TYPE|SCHEMA)\b`),
	regexp.MustCompile(`(?is)\bALTER\s+TABLE\b[^;]*\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?"?[a-z_]+"?\s*(?:,|;|CASCADE|RESTRICT|$)`),
	regexp.MustCompile(`(?is)\bRENAME\b`),
	regexp.MustCompile(`(?is)\bALTER\s+COLUMN\b[^;]*\b(TYPE|SET\s+NOT\s+NULL)\b`),
	regexp.MustCompile(`(?is)\bADD\s+COLUMN\b[^;,]*\bNOT\s+NULL\b`),
	regexp.MustCompile(`(?is)\bADD\s+CONSTRAINT\b[^;]*\b(CHECK|UNIQUE|FOREIGN\s+KEY)\b`),
}

// ExpandOnly reports every migration after baseline whose SQL the previous release could fail
// on, unless it is marked as a contract migration. A column added NOT NULL passes only with a
// DEFAULT, which old writers then fill in.
func ExpandOnly(ms []Migration, baseline int) []string {
	var problems []string
	for _, m := range ms {
		if m.Version <= baseline || contractMarker.MatchString(m.SQL) {
			continue
		}
		for _, stmt := range strings.Split(stripComments(m.SQL), ";") {
			for _, re := range destructive {
				hit := re.FindString(stmt + ";")
				if hit == "" {
					continue
				}
				if strings.Contains(strings.ToUpper(hit), "NOT NULL") && regexp.MustCompile(`(?i)\bDEFAULT\b`).MatchString(stmt) && !strings.Contains(strings.ToUpper(hit), "SET NOT NULL") {
					continue
				}
				problems = append(problems, fmt.Sprintf("%s: %q breaks the previous release (expand only; mark a contract migration with `-- contract: unused since vX.Y`)",
					m.Describe(), strings.Join(strings.Fields(hit), " ")))
			}
		}
	}
	return problems
}

// stripComments removes -- line comments, so that prose does not count as SQL.
func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Describe names a migration like its file.
func (m Migration) Describe() string { return fmt.Sprintf("%03d_%s", m.Version, m.Name) }
