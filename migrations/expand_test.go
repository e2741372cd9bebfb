package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/migrations"
)

// expandBaseline is the last migration written before the expand/contract rule; later ones must
// leave the previous release working (docs/deploy.md, "Migrations: expand, then contract").
const expandBaseline = 4

func TestMigrationsOnlyExpand(t *testing.T) {
	t.Parallel()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range migrations.ExpandOnly(ms, expandBaseline) {
		t.Error(p)
	}
}

func TestExpandOnlyCatchesMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sql  string
		want string // "" means allowed
	}{
		{"CREATE TABLE t (id bigint PRIMARY KEY);", ""},
		{"ALTER TABLE products ADD COLUMN color text;", ""},
		{"ALTER TABLE products ADD COLUMN stock int NOT NULL DEFAULT 0;", ""},
		{"CREATE INDEX CONCURRENTLY i ON products (sku);\nDROP INDEX old_i;", ""},
		{"-- we used to DROP TABLE here\nALTER TABLE products ADD COLUMN x text;", ""},
		{"ALTER TABLE products ALTER COLUMN name DROP NOT NULL;", ""},
		{"ALTER TABLE products DROP COLUMN description;", "DROP COLUMN"},
		{"ALTER TABLE products DROP description;", "DROP description;"},
		{"DROP TABLE sync_outbox;", "DROP TABLE"},
		{"ALTER TABLE products RENAME COLUMN name TO title;", "RENAME"},
		{"ALTER TABLE products ALTER COLUMN price TYPE numeric(12,2);", "TYPE"},
		{"ALTER TABLE products ALTER COLUMN category SET NOT NULL;", "SET NOT NULL"},
		{"ALTER TABLE products ADD COLUMN stock int NOT NULL;", "NOT NULL"},
		{"ALTER TABLE products ADD CONSTRAINT positive CHECK (price > 0);", "CHECK"},
		{"-- contract: unused since v1.4\nALTER TABLE products DROP COLUMN legacy;", ""},
	}
	for _, tt := range tests {
		got := migrations.ExpandOnly([]migrations.Migration{{Version: 9, Name: "x", SQL: tt.sql}}, 8)
		switch {
		case tt.want == "" && len(got) > 0:
			t.Errorf("%q flagged: %v", tt.sql, got)
		case tt.want != "" && (len(got) == 0 || !strings.Contains(got[0], tt.want)):
			t.Errorf("%q: %v, want a problem naming %q", tt.sql, got, tt.want)
		}
	}
	if got := migrations.ExpandOnly([]migrations.Migration{{Version: 3, SQL: "DROP TABLE x;"}}, 4); len(got) != 0 {
		t.Errorf("a migration before the baseline was checked: %v", got)
	}
}

// The previous release must keep running on a schema one migration ahead: during a rolling
// deploy, and after ECS rolls a failed release back once its migrations have run.
func TestCheckAcceptsANewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'next_release')`, migrations.Latest()+1); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Check(ctx, pool); err != nil {
		t.Fatalf("Check on a newer schema = %v, want nil (expand/contract keeps it compatible)", err)
	}
}
