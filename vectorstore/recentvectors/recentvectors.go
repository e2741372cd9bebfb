// Package recentvectors owns the recent_vectors table: the vectors emu wrote
// lately, recorded in the same transaction as index_state. Search scores
// them exactly and merges them with the vector store's approximate results
// (as Milvus searches its growing segments by brute force), so that a
// product written a moment ago is found first whenever an exact search
// would put it first: an HNSW graph can miss an isolated point among dense
// look-alikes, and Pinecone serverless answers queries from a state that
// lags its writes by a few seconds. The table stays small: every write
// prunes it to a time window and a row cap, which also bound the scan.
package recentvectors

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// Defaults: an hour covers Pinecone's visibility lag and every edit a user
// is still looking for; 1,000 vectors of 512 dimensions are 2 MB, which
// Postgres ranks in a millisecond or two.
const (
	DefaultWindow = time.Hour
	DefaultLimit  = 1000
)

// Options bound what is kept and scanned; zero values take the defaults.
type Options struct {
	// Window is how long a write stays recent.
	Window time.Duration
	// Limit caps the recent vectors per model; a negative Limit turns the
	// recording off.
	Limit int
}

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	return o
}

// Disabled reports whether o turns recent writes off.
func (o Options) Disabled() bool { return o.Limit < 0 }

// DB is a pool or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Record keeps vecs (of model) as recent and prunes what fell out of the
// window or beyond the cap. A vector never replaces a newer version of its
// product. Pruning skips rows another writer holds, so concurrent writers
// never wait on each other here.
func Record(ctx context.Context, db DB, model string, vecs []vectorstore.Vector, o Options) error {
	o = o.withDefaults()
	if o.Disabled() || len(vecs) == 0 {
		return nil
	}
	if len(vecs) > o.Limit {
		vecs = vecs[len(vecs)-o.Limit:]
	}
	n := len(vecs)
	pids, vers, blobs, texts := make([]int64, n), make([]int64, n), make([][]byte, n), make([]string, n)
	for i, v := range vecs {
		pids[i], vers[i], blobs[i], texts[i] = v.Meta.ProductID, v.Meta.Version, encode(v.Values), vectorText(v.Values)
	}
	// embedding (bytea) is for the previous release's readers during a
	// rolling deploy (migration 010); vec is what search ranks.
	if _, err := db.Exec(ctx, `INSERT INTO recent_vectors AS r (model, product_id, version, embedding, vec)
		SELECT $1, pid, ver, blob, txt::vector FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::text[]) AS u(pid, ver, blob, txt)
		ON CONFLICT (model, product_id) DO UPDATE SET version = excluded.version,
			embedding = excluded.embedding, vec = excluded.vec, written_at = clock_timestamp()
		WHERE r.version <= excluded.version`, model, pids, vers, blobs, texts); err != nil {
		return fmt.Errorf("record %d recent vectors: %w", n, err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM recent_vectors WHERE model = $1 AND product_id IN (
			SELECT product_id FROM recent_vectors WHERE model = $1 AND written_at < clock_timestamp() - $2::interval
			FOR UPDATE SKIP LOCKED)`, model, o.Window); err != nil {
		return fmt.Errorf("prune recent vectors older than %v: %w", o.Window, err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM recent_vectors WHERE model = $1 AND product_id IN (
			SELECT product_id FROM recent_vectors WHERE model = $1
			ORDER BY written_at DESC OFFSET $2 FOR UPDATE SKIP LOCKED)`, model, o.Limit); err != nil {
		return fmt.Errorf("prune recent vectors beyond %d: %w", o.Limit, err)
	}
	return nil
}

// Held returns which of productIDs have a recent vector of model.
func Held(ctx context.Context, db DB, model string, productIDs []int64) (map[int64]bool, error) {
	rows, err := db.Query(ctx, `SELECT product_id FROM recent_vectors WHERE model = $1 AND product_id = ANY($2)`, model, productIDs)
	if err != nil {
		return nil, fmt.Errorf("look up recent vectors of %d products: %w", len(productIDs), err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("look up recent vectors of %d products: %w", len(productIDs), err)
	}
	held := make(map[int64]bool, len(ids))
	for _, id := range ids {
		held[id] = true
	}
	return held, nil
}

// Forget drops the recent vectors of deleted products.
func Forget(ctx context.Context, db DB, model string, productIDs []int64) error {
	if len(productIDs) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `DELETE FROM recent_vectors WHERE model = $1 AND product_id = ANY($2)`, model, productIDs); err != nil {
		return fmt.Errorf("forget %d recent vectors: %w", len(productIDs), err)
	}
	return nil
}

// Scanner scores one model's recent vectors exactly.
type Scanner struct {
	db    DB
	model string
	o     Options
}

// NewScanner returns a Scanner for model's recent vectors in db.
func NewScanner(db DB, model string, o Options) *Scanner {
	return &Scanner{db: db, model: model, o: o.withDefaults()}
}

// Recent returns the k recent vectors most similar to values (cosine)
// among those of products that pass filter (as the product's row is now),
// best first, and beside them the recent vectors of the products in also
// (the vector store's answer), so that Merge replaces a score the store may
// still give from an older vector. Postgres ranks them (pgvector's
// distance over the window's rows, at most Limit but for the few a
// concurrent write has yet to prune), so no more than k+len(also) rows
// come back whatever the table holds. With no filter the
// products table is not read: search drops rows that are gone anyway.
func (s *Scanner) Recent(ctx context.Context, values []float32, k int, filter vectormeta.Filter, also []int64) ([]vectorstore.Match, error) {
	if s.o.Disabled() || k <= 0 {
		return nil, nil
	}
	if also == nil {
		also = []int64{}
	}
	args := []any{s.model, s.o.Window, values, also}
	// Every write prunes the table to the cap, so the window alone bounds
	// the scan: ordering by time to cap it again would sort the 2 KB rows.
	// The query vector is converted once, in a subquery: Postgres switches
	// to a generic plan after a few executions of the prepared statement,
	// and a generic plan converts a parameter cast inside the distance for
	// every row (1,000 conversions of 512 floats: 2.2 ms against 18 ms for
	// the scan at the cap, load 20).
	inner := `SELECT r.product_id, 1 - (r.vec <=> (SELECT $3::float4[]::vector)) AS score FROM recent_vectors r`
	where, args := filter.SQL("p.", args)
	if len(where) > 0 {
		inner += ` JOIN products p ON p.id = r.product_id`
	}
	inner += ` WHERE r.model = $1 AND r.written_at > clock_timestamp() - $2::interval AND r.vec IS NOT NULL`
	for _, w := range where {
		inner += ` AND ` + w
	}
	// A zero vector has no direction: its distance is NaN, which would
	// sort first. k is a literal, as in the store's query.
	sql := `WITH w AS (` + inner + `)
		SELECT product_id, score FROM ((SELECT * FROM w WHERE score <> 'NaN' ORDER BY score DESC, product_id LIMIT ` + strconv.Itoa(k) + `)
		UNION SELECT * FROM w WHERE score <> 'NaN' AND product_id = ANY($4::bigint[])) AS t ORDER BY score DESC, product_id`
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("rank recent vectors: %w", err)
	}
	out := make([]vectorstore.Match, 0, k)
	var pid int64
	var score float64
	_, err = pgx.ForEachRow(rows, []any{&pid, &score}, func() error {
		out = append(out, vectorstore.Match{ID: vectormeta.VectorID(pid), Score: float32(score),
			Meta: vectormeta.Metadata{ProductID: pid, Model: s.model}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rank recent vectors: %w", err)
	}
	return out, nil
}

// Merge folds recent, exactly scored matches into approximate ones and
// keeps the best k: a product in both keeps its recent score, since the
// index may still answer with an older vector (Pinecone's lag).
func Merge(approx, recent []vectorstore.Match, k int) []vectorstore.Match {
	if len(recent) == 0 {
		return approx
	}
	fresh := make(map[string]bool, len(recent))
	out := make([]vectorstore.Match, 0, len(approx)+len(recent))
	for _, m := range recent {
		fresh[m.ID] = true
		out = append(out, m)
	}
	for _, m := range approx {
		if !fresh[m.ID] {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, byScore)
	return out[:min(k, len(out))]
}

func byScore(a, b vectorstore.Match) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// vectorText is pgvector's text form of v, exact for float32 values: the
// table takes it without the connection knowing pgvector's types.
func vectorText(v []float32) string {
	b := make([]byte, 0, 12*len(v)+2)
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

func encode(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// ForgetModel drops every recent vector of model (an index generation
// being dropped).
func ForgetModel(ctx context.Context, db DB, model string) error {
	if _, err := db.Exec(ctx, `DELETE FROM recent_vectors WHERE model = $1`, model); err != nil {
		return fmt.Errorf("forget the recent vectors of %s: %w", model, err)
	}
	return nil
}
