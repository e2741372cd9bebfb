// Package generations owns index_generations: which embedder and vector
// store target each generation of the index uses, and which one is active.
// Generations are data, not configuration: every role reads them from
// Postgres and reloads them when they change (Channel, plus polling), and
// the embedder configuration only says what the first generation is on an
// empty database and what `refarch index create` uses by default.
//
// A generation's name is also its key in the tables that record what an
// index holds (index_state, index_failures, recent_vectors, vector_indexes,
// catchup_passes: their model column). The first generation is named after
// its model id, so a database indexed before generations existed keeps its
// index.
package generations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/refarch/refarch/indexstate"
)

// Channel is the NOTIFY channel a change of index_generations wakes.
const Channel = "refarch_generations"

// States of a generation. Dropping is transient: `index drop` sets it
// before deleting the generation's vectors, so that no worker writes them
// any more.
const (
	Building = "building"
	Active   = "active"
	Retired  = "retired"
	Dropping = "dropping"
)

// Stores a generation's vectors can live in.
const (
	StorePgvector = "pgvector"
	StorePinecone = "pinecone"
)

// DB runs statements: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Generation is one embedder and vector store target of the index.
type Generation struct {
	Name string `json:"name"`
	// Embedder is the backend kind (use, hash, ollama); Model its model id.
	Embedder string `json:"embedder"`
	Model    string `json:"model"`
	Dims     int    `json:"dims"`
	// Options are the backend settings that make the model what it is (the
	// Ollama model name); where to reach a server and secrets come from
	// each process's configuration.
	Options map[string]string `json:"options,omitempty"`
	// Store is pgvector or pinecone; Target the table, or index/namespace.
	Store  string `json:"store"`
	Target string `json:"target"`
	State  string `json:"state"`
	// AutoPromote makes pelican promote the generation as soon as its
	// backfill is complete.
	AutoPromote bool       `json:"auto_promote"`
	CreatedAt   time.Time  `json:"created_at"`
	PromotedAt  *time.Time `json:"promoted_at"`
	RetiredAt   *time.Time `json:"retired_at"`
}

// Live reports whether workers write the generation.
func (g Generation) Live() bool {
	return g.State == Building || g.State == Active || g.State == Retired
}

// StoreTarget is how `index list` names the vectors' place.
func (g Generation) StoreTarget() string { return g.Store + ":" + g.Target }

const columns = `name, embedder, model, dims, options, store, target, state, auto_promote, created_at, promoted_at, retired_at`

func scan(r pgx.Row) (Generation, error) {
	var g Generation
	var opts []byte
	if err := r.Scan(&g.Name, &g.Embedder, &g.Model, &g.Dims, &opts, &g.Store, &g.Target, &g.State, &g.AutoPromote,
		&g.CreatedAt, &g.PromotedAt, &g.RetiredAt); err != nil {
		return g, err
	}
	if len(opts) > 0 {
		if err := json.Unmarshal(opts, &g.Options); err != nil {
			return g, fmt.Errorf("generation %s options: %w", g.Name, err)
		}
	}
	return g, nil
}

func collect(rows pgx.Rows, err error) ([]Generation, error) {
	if err != nil {
		return nil, fmt.Errorf("read index generations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Generation, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("read index generations: %w", err)
	}
	return out, nil
}

// List returns every generation, oldest first.
func List(ctx context.Context, db DB) ([]Generation, error) {
	return collect(db.Query(ctx, `SELECT `+columns+` FROM index_generations ORDER BY seq`))
}

// Live returns the generations workers write (building, active, retired),
// oldest first. Emu reads it for every batch: a change committed after a
// generation was created must reach it.
func Live(ctx context.Context, db DB) ([]Generation, error) {
	return collect(db.Query(ctx, `SELECT `+columns+` FROM index_generations
		WHERE state IN ('building', 'active', 'retired') ORDER BY seq`))
}

// ErrNone is returned by GetActive when no generation exists yet.
var ErrNone = errors.New("no index generation yet")

// ErrNotFound is wrapped by the errors about a generation that does not
// exist.
var ErrNotFound = errors.New("does not exist")

// GetActive returns the active generation.
func GetActive(ctx context.Context, db DB) (Generation, error) {
	g, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM index_generations WHERE state = 'active'`))
	if errors.Is(err, pgx.ErrNoRows) {
		return g, ErrNone
	}
	if err != nil {
		return g, fmt.Errorf("read the active index generation: %w", err)
	}
	return g, nil
}

// Get returns the generation called name.
func Get(ctx context.Context, db DB, name string) (Generation, error) {
	g, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM index_generations WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return g, fmt.Errorf("index generation %q %w (see `refarch index list`)", name, ErrNotFound)
	}
	if err != nil {
		return g, fmt.Errorf("read index generation %s: %w", name, err)
	}
	return g, nil
}

func insert(ctx context.Context, db DB, g Generation, state string) (bool, error) {
	opts, err := json.Marshal(g.Options)
	if err != nil {
		return false, fmt.Errorf("encode generation options: %w", err)
	}
	if g.Options == nil {
		opts = []byte("{}")
	}
	promoted := "NULL"
	if state == Active {
		promoted = "now()"
	}
	tag, err := db.Exec(ctx, `INSERT INTO index_generations (name, embedder, model, dims, options, store, target, state, auto_promote, promoted_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, `+promoted+`
		WHERE $8 <> 'active' OR NOT EXISTS (SELECT 1 FROM index_generations)
		ON CONFLICT DO NOTHING`, g.Name, g.Embedder, g.Model, g.Dims, opts, g.Store, g.Target, state, g.AutoPromote && state == Building)
	if err != nil {
		return false, fmt.Errorf("create index generation %s: %w", g.Name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// EnsureFirst makes first the active generation when there is no
// generation at all (a new database, or one indexed before generations
// existed, whose index is adopted as it is), and returns the active
// generation. Roles starting together race here harmlessly.
func EnsureFirst(ctx context.Context, db DB, first Generation) (Generation, error) {
	if _, err := insert(ctx, db, first, Active); err != nil {
		return Generation{}, err
	}
	return GetActive(ctx, db)
}

// FreeName returns a name for a new generation of model: the model id when
// no generation has it, else the model id and a number.
func FreeName(ctx context.Context, db DB, model string) (string, error) {
	for n := 1; ; n++ {
		name := model
		if n > 1 {
			name = model + "-" + strconv.Itoa(n)
		}
		var taken bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM index_generations WHERE name = $1)
			OR EXISTS (SELECT 1 FROM index_state WHERE model = $1)`, name).Scan(&taken); err != nil {
			return "", fmt.Errorf("choose a generation name: %w", err)
		}
		if !taken {
			return name, nil
		}
	}
}

// Create records g as a building generation.
func Create(ctx context.Context, db DB, g Generation) error {
	ok, err := insert(ctx, db, g, Building)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("create index generation %s: the name is taken", g.Name)
	}
	return nil
}

// IncompleteError refuses to promote a generation that lacks rows.
type IncompleteError struct {
	Name    string
	Missing int64
}

func (e IncompleteError) Error() string {
	return fmt.Sprintf("generation %s is incomplete: it lacks %d rows the active generation holds (wait for the backfill, or --force)", e.Name, e.Missing)
}

// Promote makes name the active generation and retires the active one, in
// one transaction: every search from its commit on uses name. Unless force,
// missing (run inside the transaction) must find no row left to index.
func Promote(ctx context.Context, db DB, name string, force bool, missing func(ctx context.Context, tx pgx.Tx) (int64, error)) (Generation, error) {
	var out Generation
	err := pgx.BeginFunc(ctx, txStarter{db}, func(tx pgx.Tx) error {
		if err := lockAdmin(ctx, tx); err != nil {
			return err
		}
		g, err := Get(ctx, tx, name)
		if err != nil {
			return err
		}
		switch g.State {
		case Active:
			out = g
			return nil
		case Dropping:
			return fmt.Errorf("generation %s: %w", name, ErrDropping)
		}
		if !force && missing != nil {
			n, err := missing(ctx, tx)
			if err != nil {
				return err
			}
			if n > 0 {
				return IncompleteError{Name: name, Missing: n}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE index_generations SET state = 'retired', retired_at = now() WHERE state = 'active'`); err != nil {
			return fmt.Errorf("retire the active generation: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE index_generations SET state = 'active', promoted_at = now(), retired_at = NULL WHERE name = $1`, name); err != nil {
			return fmt.Errorf("promote generation %s: %w", name, err)
		}
		out, err = Get(ctx, tx, name)
		return err
	})
	return out, err
}

// PromoteComplete is Promote with completeness judged as `refarch index
// promote` judges it: the generation must hold every row, last changed
// before it was created, that the active one holds (its backfill is done).
// Later changes reach every live generation as they flow, so they never
// hold a promotion back. Even with force, a generation whose index no
// worker has opened yet (no emu could write it: its vectors do not exist)
// is refused with indexstate.ErrNoIndex: searches could not read it.
func PromoteComplete(ctx context.Context, db DB, name string, force bool) (Generation, error) {
	if g, err := Get(ctx, db, name); err != nil || g.State == Active {
		return g, err
	}
	if force {
		if err := indexstate.New(db, name).Registered(ctx); err != nil {
			return Generation{}, fmt.Errorf("promote %s: %w", name, err)
		}
	}
	return Promote(ctx, db, name, force, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		active, err := GetActive(ctx, tx)
		if err != nil {
			return 0, err
		}
		g, err := Get(ctx, tx, name)
		if err != nil {
			return 0, err
		}
		return indexstate.New(tx, name).Lacking(ctx, active.Name, g.CreatedAt)
	})
}

// ErrDropping refuses to promote a generation being dropped.
var ErrDropping = errors.New("it is being dropped")

// ErrActive refuses to drop the active generation.
var ErrActive = errors.New("the active generation cannot be dropped: promote another one first")

// MarkDropping stops every worker from writing the generation: it waits
// for the write transactions that hold it (WriteGuard) and returns the
// generation as it was. The active one is refused.
func MarkDropping(ctx context.Context, db DB, name string) (Generation, error) {
	var out Generation
	err := pgx.BeginFunc(ctx, txStarter{db}, func(tx pgx.Tx) error {
		if err := lockAdmin(ctx, tx); err != nil {
			return err
		}
		g, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM index_generations WHERE name = $1`, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("index generation %q %w (see `refarch index list`)", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock generation %s: %w", name, err)
		}
		if g.State == Active {
			return fmt.Errorf("drop %s: %w", name, ErrActive)
		}
		out = g
		_, err = tx.Exec(ctx, `UPDATE index_generations SET state = 'dropping' WHERE name = $1`, name)
		if err != nil {
			return fmt.Errorf("mark generation %s dropping: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	// Wait for the write transactions that began before: they hold the
	// row FOR KEY SHARE, which FOR UPDATE waits for. Later ones see
	// "dropping" and write nothing.
	err = pgx.BeginFunc(ctx, txStarter{db}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM index_generations WHERE name = $1 FOR UPDATE`, name); err != nil {
			return fmt.Errorf("wait for the writes of generation %s to end: %w", name, err)
		}
		return nil
	})
	return out, err
}

// adminLockKey is the transaction advisory lock of lockAdmin ("refarch
// generations" folded into a bigint).
const adminLockKey = 0x7265666172636847

// lockAdmin serialises the changes of state (promote, drop), whoever makes
// them (the CLI, the status page, pelican's auto-promotion), without
// waiting for emu's write transactions, which hold the generations' rows
// FOR KEY SHARE. An advisory lock needs no table privilege, so serve and
// pelican, with their narrow grants, take it as the migrating user does.
func lockAdmin(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(adminLockKey)); err != nil {
		return fmt.Errorf("lock index generations: %w", err)
	}
	return nil
}

// Forget deletes a dropping generation's row, once its vectors and state
// are gone.
func Forget(ctx context.Context, db DB, name string) error {
	if _, err := db.Exec(ctx, `DELETE FROM index_generations WHERE name = $1 AND state = 'dropping'`, name); err != nil {
		return fmt.Errorf("forget generation %s: %w", name, err)
	}
	return nil
}

// WriteGuard locks the generation against MarkDropping until tx ends (FOR
// KEY SHARE, which a promotion's updates do not wait for) and
// reports whether it is still written (not dropping or gone). Emu calls it in
// every write transaction, so no vector is written once a drop has begun.
func WriteGuard(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM index_generations WHERE name = $1 FOR KEY SHARE`, name).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check generation %s: %w", name, err)
	}
	return state != Dropping, nil
}

// txStarter lets BeginFunc run on any DB that can begin (a pool, a conn) or
// nest in a transaction.
type txStarter struct{ db DB }

func (t txStarter) Begin(ctx context.Context) (pgx.Tx, error) {
	b, ok := t.db.(interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	})
	if !ok {
		return nil, errors.New("database handle cannot begin a transaction")
	}
	return b.Begin(ctx)
}
