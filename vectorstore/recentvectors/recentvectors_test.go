package recentvectors_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

const model = "test-model"

func vec(pid, version int64, values ...float32) vectorstore.Vector {
	return vectorstore.Vector{ID: vectormeta.VectorID(pid), Values: values,
		Meta: vectormeta.Metadata{ProductID: pid, Version: version, Model: model}}
}

func ids(ms []vectorstore.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestRecordAndScore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	o := recentvectors.Options{}
	err := recentvectors.Record(ctx, pool, model, []vectorstore.Vector{
		vec(1, 1, 1, 0, 0), vec(2, 1, 1, 1, 0), vec(3, 1, 0, 0, 1),
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	// Another model's vectors are never mixed in.
	other := vec(4, 1, 1, 0, 0)
	if err := recentvectors.Record(ctx, pool, "other-model", []vectorstore.Vector{other}, o); err != nil {
		t.Fatal(err)
	}
	s := recentvectors.NewScanner(pool, model, o)
	got, err := s.Recent(ctx, []float32{2, 0, 0}, 10, vectormeta.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", "2", "3"}; !slices.Equal(ids(got), want) {
		t.Fatalf("order %v, want %v", ids(got), want)
	}
	for i, want := range []float64{1, 1 / math.Sqrt2, 0} {
		if math.Abs(float64(got[i].Score)-want) > 1e-6 {
			t.Errorf("%s scores %v, want cosine %v", got[i].ID, got[i].Score, want)
		}
	}

	// An older version never replaces a newer one; a newer one does.
	if err := recentvectors.Record(ctx, pool, model, []vectorstore.Vector{vec(1, 3, 0, 0, 1)}, o); err != nil {
		t.Fatal(err)
	}
	if err := recentvectors.Record(ctx, pool, model, []vectorstore.Vector{vec(1, 2, 1, 0, 0)}, o); err != nil {
		t.Fatal(err)
	}
	got, err = s.Recent(ctx, []float32{0, 0, 1}, 10, vectormeta.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Score < 0.999 || got[1].Score < 0.999 || !slices.Contains(ids(got[:2]), "1") {
		t.Fatalf("after a newer version: %v", got)
	}

	if err := recentvectors.Forget(ctx, pool, model, []int64{1, 3}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Recent(ctx, []float32{0, 0, 1}, 10, vectormeta.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"2"}) {
		t.Fatalf("after forgetting 1 and 3: %v", ids(got))
	}
}

// The table is bounded by the row cap and the time window, and the scan
// never reads beyond either.
func TestBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	o := recentvectors.Options{Limit: 3, Window: time.Minute}
	for pid := range int64(5) {
		if err := recentvectors.Record(ctx, pool, model, []vectorstore.Vector{vec(pid+1, 1, 1, float32(pid), 0)}, o); err != nil {
			t.Fatal(err)
		}
	}
	s := recentvectors.NewScanner(pool, model, o)
	got, err := s.Recent(ctx, []float32{1, 0, 0}, 10, vectormeta.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"3", "4", "5"}) {
		t.Fatalf("capped at 3: %v, want the last three written", ids(got))
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM recent_vectors WHERE model = $1`, model).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d rows kept, want 3", n)
	}

	// Rows older than the window are not scanned, and the next write
	// removes them.
	if _, err := pool.Exec(ctx, `UPDATE recent_vectors SET written_at = now() - interval '2 minutes' WHERE product_id IN (3, 4)`); err != nil {
		t.Fatal(err)
	}
	got, err = s.Recent(ctx, []float32{1, 0, 0}, 10, vectormeta.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"5"}) {
		t.Fatalf("within the window: %v, want product-5 only", ids(got))
	}
	if err := recentvectors.Record(ctx, pool, model, []vectorstore.Vector{vec(9, 1, 0, 1, 0)}, o); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM recent_vectors WHERE model = $1`, model).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d rows kept after pruning, want 2", n)
	}

	// A negative limit records nothing and scans nothing.
	off := recentvectors.Options{Limit: -1}
	if err := recentvectors.Record(ctx, pool, "off-model", []vectorstore.Vector{vec(1, 1, 1, 0, 0)}, off); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM recent_vectors WHERE model = 'off-model'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("disabled recording kept %d rows", n)
	}
}

// Filters apply to the products' rows as they are now.
func TestFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	var pids []int64
	rows, err := pool.Query(ctx, `INSERT INTO products (sku, name, description, price, category)
		VALUES ('A', 'a', 'a', 5, 'garden'), ('B', 'b', 'b', 50, 'garden'), ('C', 'c', 'c', 5, 'kitchen') RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var vs []vectorstore.Vector
	for _, id := range pids {
		vs = append(vs, vec(id, 1, 1, 0, 0))
	}
	if err := recentvectors.Record(ctx, pool, model, vs, recentvectors.Options{}); err != nil {
		t.Fatal(err)
	}
	s := recentvectors.NewScanner(pool, model, recentvectors.Options{})
	hi := 10.0
	got, err := s.Recent(ctx, []float32{1, 0, 0}, 10, vectormeta.Filter{Category: "garden", MaxPrice: &hi}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{vectormeta.VectorID(pids[0])}; !slices.Equal(ids(got), want) {
		t.Fatalf("garden under 10: %v, want %v", ids(got), want)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	m := func(id string, score float32) vectorstore.Match { return vectorstore.Match{ID: id, Score: score} }
	for _, tc := range []struct {
		name           string
		approx, recent []vectorstore.Match
		k              int
		want           []vectorstore.Match
	}{
		{"no recent", []vectorstore.Match{m("a", .9), m("b", .5)}, nil, 2, []vectorstore.Match{m("a", .9), m("b", .5)}},
		{"recent missed by the index comes first", []vectorstore.Match{m("a", .5), m("b", .4)}, []vectorstore.Match{m("z", .8)}, 2,
			[]vectorstore.Match{m("z", .8), m("a", .5)}},
		{"recent score replaces a lagging one", []vectorstore.Match{m("a", .9), m("b", .4)}, []vectorstore.Match{m("a", .1)}, 2,
			[]vectorstore.Match{m("b", .4), m("a", .1)}},
		{"ties by id", []vectorstore.Match{m("b", .5)}, []vectorstore.Match{m("a", .5)}, 1, []vectorstore.Match{m("a", .5)}},
		{"fewer than k", nil, []vectorstore.Match{m("a", .2)}, 5, []vectorstore.Match{m("a", .2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := recentvectors.Merge(tc.approx, tc.recent, tc.k); !slices.EqualFunc(got, tc.want, func(a, b vectorstore.Match) bool {
				return a.ID == b.ID && a.Score == b.Score
			}) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Only the best k come back, ranked in SQL, plus the recent vectors of the
// products the store answered with, so that a stale score is replaced
// however far down the edit moved the product.
func TestRecentReturnsTheBestKAndTheStoresAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	vs := ramp(50)
	vs = append(vs, vec(99, 1, 0, 0, 1)) // edited far away from the query
	if err := recentvectors.Record(ctx, pool, model, vs, recentvectors.Options{}); err != nil {
		t.Fatal(err)
	}
	s := recentvectors.NewScanner(pool, model, recentvectors.Options{})
	got, err := s.Recent(ctx, []float32{1, 0, 0}, 3, vectormeta.Filter{}, []int64{99, 7, 12345})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", "2", "3", "7", "99"}; !slices.Equal(ids(got), want) {
		t.Fatalf("got %v, want the best 3, then products 7 and 99 of the store's answer: %v", ids(got), want)
	}
	if got[4].Score > 1e-6 {
		t.Errorf("product 99 scores %v, want its recent vector's 0", got[4].Score)
	}
}

// The query vector is converted to pgvector's type once per search, not
// once per recent vector, also under the generic plan Postgres switches a
// prepared statement to after a few executions: at the cap of 1,000
// vectors the per-row conversions cost several times the ranking itself.
func TestRecentConvertsTheQueryOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	vs := ramp(50)
	if err := recentvectors.Record(ctx, pool, model, vs, recentvectors.Options{}); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// Count calls of the float4[] to vector cast in this transaction, with
	// the plan Postgres would choose after five executions.
	if _, err := tx.Exec(ctx, `SET LOCAL track_functions = 'all'; SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	const searches = 3
	s := recentvectors.NewScanner(tx, model, recentvectors.Options{})
	for range searches {
		got, err := s.Recent(ctx, []float32{1, 0, 0}, 3, vectormeta.Filter{}, []int64{7})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"1", "2", "3", "7"}; !slices.Equal(ids(got), want) {
			t.Fatalf("got %v, want %v", ids(got), want)
		}
	}
	var calls int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(pg_stat_get_xact_function_calls('array_to_vector(real[], integer, boolean)'::regprocedure), 0)`).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || calls > searches {
		t.Errorf("%d searches over %d recent vectors converted the query vector %d times, want once each", searches, len(vs), calls)
	}
}

// ramp is n recent vectors of products 1 to n, each closer to (1, 0, 0)
// than the one before.
func ramp(n int64) []vectorstore.Vector {
	var vs []vectorstore.Vector
	for pid := int64(1); pid <= n; pid++ {
		vs = append(vs, vec(pid, 1, 1, float32(pid)/10, 0))
	}
	return vs
}
