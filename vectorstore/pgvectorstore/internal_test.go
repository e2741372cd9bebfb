package pgvectorstore

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

func randomVectors(seed uint64, n, dim int, cats []string) []vectorstore.Vector {
	r := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]vectorstore.Vector, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		id := int64(i + 1)
		out[i] = vectorstore.Vector{ID: vectormeta.VectorID(id), Values: v, Meta: vectormeta.Metadata{
			ProductID: id, Version: 1, ContentHash: "h", Model: "m",
			Category: cats[r.IntN(len(cats))], Price: float64(r.IntN(100000)) / 100,
		}}
	}
	return out
}

func exactTop(vs []vectorstore.Vector, q []float32, k int, f vectormeta.Filter) []string {
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	for _, v := range vs {
		if f.Match(v.Meta) {
			all = append(all, sc{v.ID, testkit.Cosine(q, v.Values)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s })
	var ids []string
	for _, a := range all[:min(k, len(all))] {
		ids = append(ids, a.id)
	}
	return ids
}

// TestHNSWPlanAndRecall checks on a table big enough for the planner to pick
// the HNSW index that it does, and that filtered searches still return k rows
// close to the exact answer (iterative scans at work).
func TestHNSWPlanAndRecall(t *testing.T) {
	t.Parallel()
	const n, dim, k = 6000, 32, 10
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "recall-model", dim)
	if err != nil {
		t.Fatal(err)
	}
	cats := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	vs := randomVectors(42, n, dim, cats)
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.qtable); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	q := randomVectors(99, 1, dim, cats)[0].Values

	sql, args := s.querySQL(q, k, vectormeta.Filter{}, 0)
	plan := explain(t, s, sql, args)
	if !strings.Contains(plan, s.table+"_hnsw") {
		t.Errorf("unfiltered search does not use the HNSW index:\n%s", plan)
	}

	lo, hi := 100.0, 600.0
	filters := []vectormeta.Filter{{}, {Category: "c"}, {MinPrice: &lo, MaxPrice: &hi}, {Category: "d", MaxPrice: &hi}}
	for _, f := range filters {
		var hits, total int
		for range 20 {
			q := randomVectors(r.Uint64(), 1, dim, cats)[0].Values
			got, err := s.Query(ctx, q, k, f)
			if err != nil {
				t.Fatal(err)
			}
			want := exactTop(vs, q, k, f)
			if len(got) != len(want) {
				t.Errorf("filter %+v: %d results, want %d", f, len(got), len(want))
			}
			for _, m := range got {
				if slices.Contains(want, m.ID) {
					hits++
				}
			}
			total += len(want)
		}
		recall := float64(hits) / float64(total)
		t.Logf("filter %+v: recall@%d = %.3f", f, k, recall)
		if recall < 0.85 {
			t.Errorf("filter %+v: recall@%d = %.3f, want >= 0.85", f, k, recall)
		}
	}
}

// explain shows the plan Query gets, with the same options in the same batch.
func explain(t *testing.T, s *Store, sql string, args []any) string {
	t.Helper()
	c, err := s.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	var lines []string
	err = c.SendBatch(t.Context(), searchBatch(efSearch(10, 10_000), maxScanTuples, time.Second, "EXPLAIN "+sql, args, func(rows pgx.Rows) error {
		var err error
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})).Close()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestPlanUsesHNSWWithToastedVectors covers the case the planner gets wrong
// on its own: 512-dimension vectors live in TOAST, the main table looks
// cheap to scan, and without the search options it sorts the whole table.
func TestPlanUsesHNSWWithToastedVectors(t *testing.T) {
	t.Parallel()
	const n, dim = 400, 512
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "plan-model", dim)
	if err != nil {
		t.Fatal(err)
	}
	vs := randomVectors(5, n, dim, []string{"a", "b", "c"})
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.qtable); err != nil {
		t.Fatal(err)
	}
	lo := 10.0
	for _, f := range []vectormeta.Filter{{}, {Category: "b"}, {MinPrice: &lo}} {
		sql, args := s.querySQL(vs[0].Values, 10, f, 0)
		if plan := explain(t, s, sql, args); !strings.Contains(plan, s.table+"_hnsw") {
			t.Errorf("search with filter %+v does not use the HNSW index:\n%s", f, plan)
		}
	}
}

func TestNewConcurrentAndCollision(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { _, errs[i] = New(ctx, pool, "Model-A", 4) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent New %d: %v", i, err)
		}
	}
	// "model_a" sanitizes to the same table but is another model.
	if _, err := New(ctx, pool, "model_a", 4); err == nil || !strings.Contains(err.Error(), "another model") {
		t.Errorf("New with a colliding model id = %v, want an error naming the other model", err)
	}
	if _, err := New(ctx, pool, "Model-A", 5); err != nil {
		t.Errorf("same model, other dimension: %v", err)
	}
	for _, dim := range []int{0, -1, MaxDimension + 1} {
		if _, err := New(ctx, pool, "m", dim); err == nil {
			t.Errorf("New with dimension %d succeeded", dim)
		}
	}
}

// FuzzVectorRoundTrip checks the registration the store relies on: every
// []float32 (any bit pattern: NaN, -0, subnormals) survives pgvector-go's
// binary encoding through a pgx type map as the store registers it, element
// for element, bit for bit.
func FuzzVectorRoundTrip(f *testing.F) {
	f.Add([]byte{0x3f, 0x80, 0, 0, 0xbf, 0xc0, 0, 0})
	f.Add([]byte{0x7f, 0xc0, 0, 1, 0x80, 0, 0, 0})
	m := pgtype.NewMap()
	vt := &pgtype.Type{Name: "vector", OID: 90001, Codec: &pgxvec.VectorCodec{}}
	m.RegisterType(vt)
	m.RegisterType(&pgtype.Type{Name: "_vector", OID: 90002, Codec: &pgtype.ArrayCodec{ElementType: vt}})
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.BigEndian.Uint32(raw[4*i:]))
		}
		buf, err := m.Encode(90002, pgtype.BinaryFormatCode, []pgvector.Vector{pgvector.NewVector(v), pgvector.NewVector(v)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []pgvector.Vector
		if err := m.Scan(90002, pgtype.BinaryFormatCode, buf, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%d vectors back, want 2", len(got))
		}
		for _, g := range got {
			s := g.Slice()
			if len(s) != len(v) {
				t.Fatalf("%d dimensions back, want %d", len(s), len(v))
			}
			for i := range v {
				if math.Float32bits(s[i]) != math.Float32bits(v[i]) {
					t.Fatalf("element %d: %x back, want %x", i, math.Float32bits(s[i]), math.Float32bits(v[i]))
				}
			}
		}
	})
}

// TestMetadataUpdatesSkipHNSW checks that UpdateMetadata makes HOT updates,
// which leave the HNSW index alone (a non-HOT update searches the graph again
// for every row).
// It reads the heap-only flag of the live tuples (no xmax, or a lock only)
// with pageinspect.
func TestMetadataUpdatesSkipHNSW(t *testing.T) {
	t.Parallel()
	const n, dim = 300, 512
	ctx := t.Context()
	pool := pgtest.New(t)
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pageinspect`); err != nil {
		t.Skipf("pageinspect not available (needs postgresql-contrib and a superuser): %v", err)
	}
	s, err := New(ctx, pool, "hot-model", dim)
	if err != nil {
		t.Fatal(err)
	}
	vs := randomVectors(3, n, dim, []string{"a", "b"})
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	heapOnly := func() int {
		var c int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM generate_series(0, pg_relation_size($1::regclass) / 8192 - 1) AS p,
			heap_page_items(get_raw_page($1::text, p::int)) WHERE (t_xmax = 0 OR t_infomask & 128 <> 0) AND t_infomask2 & 32768 <> 0`, s.table).Scan(&c)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	metas := make([]vectormeta.Metadata, n)
	for i, v := range vs {
		metas[i] = v.Meta
		metas[i].Price += 1
		metas[i].Category = "sale"
		vs[i].Meta = metas[i]
	}
	if err := s.UpdateMetadata(ctx, metas); err != nil {
		t.Fatal(err)
	}
	// A few rows may not find room on their page; an index on a metadata
	// column would make none of them HOT.
	if got := heapOnly(); got < n*9/10 {
		t.Errorf("after UpdateMetadata %d of %d rows are HOT versions, want at least 90%%", got, n)
	}
	got, err := s.Fetch(ctx, []string{vs[0].ID})
	if err != nil || got[vs[0].ID].Meta != vs[0].Meta {
		t.Errorf("fetch after metadata writes = %+v, %v; want %+v", got[vs[0].ID].Meta, err, vs[0].Meta)
	}
}

func TestDropAndCreateIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "bulk-model", 16)
	if err != nil {
		t.Fatal(err)
	}
	hasIndex := func() bool {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.indexName()).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := s.DropIndex(ctx); err != nil || hasIndex() {
		t.Fatalf("DropIndex = %v, index still there: %v", err, hasIndex())
	}
	if err := s.DropIndex(ctx); err != nil {
		t.Errorf("second DropIndex: %v", err)
	}
	vs := randomVectors(8, 200, 16, []string{"a"})
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(ctx, vs[3].Values, 1, vectormeta.Filter{})
	if err != nil || len(got) != 1 || got[0].ID != vs[3].ID {
		t.Errorf("query without the index = %+v, %v; want %s", got, err, vs[3].ID)
	}
	for range 2 {
		if err := s.CreateIndex(ctx); err != nil || !hasIndex() {
			t.Fatalf("CreateIndex = %v, index there: %v", err, hasIndex())
		}
	}
	got, err = s.Query(ctx, vs[3].Values, 1, vectormeta.Filter{})
	if err != nil || len(got) != 1 || got[0].ID != vs[3].ID {
		t.Errorf("query after CreateIndex = %+v, %v; want %s", got, err, vs[3].ID)
	}
}

// classify tells store-wide Postgres failures (by SQLSTATE) from transient
// ones and from those that may be about the rows of one call.
func TestClassifyBySQLState(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code              string
		transient, outage bool
	}{
		{"08006", true, false}, {"40P01", true, false}, {"53100", true, false}, {"57P01", true, false},
		{"57014", true, false}, {"55P03", true, false},
		{"42P01", false, true}, {"42501", false, true}, {"28P01", false, true}, {"3D000", false, true},
		{"25006", false, true}, {"42883", false, true},
		{"22P02", false, false}, {"23505", false, false}, {"54000", false, false},
	} {
		err := classify(&pgconn.PgError{Code: c.code, Message: "x"})
		if got := errors.Is(err, vectorstore.ErrTransient); got != c.transient {
			t.Errorf("SQLSTATE %s: transient %v, want %v", c.code, got, c.transient)
		}
		if got := errors.Is(err, vectorstore.ErrUnavailable); got != c.outage {
			t.Errorf("SQLSTATE %s: unavailable %v, want %v", c.code, got, c.outage)
		}
	}
}

// A store whose table is gone, or whose role lost its privileges, reports
// ErrUnavailable from every call, and serves again once it is back.
func TestMissingTableAndPrivilegesAreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "outage-model", 8)
	if err != nil {
		t.Fatal(err)
	}
	vs := randomVectors(1, 3, 8, []string{"a"})
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`ALTER TABLE ` + s.qtable + ` RENAME TO away`)
	calls := map[string]func() error{
		"upsert": func() error { return s.Upsert(ctx, vs) },
		"delete": func() error { return s.Delete(ctx, []string{vs[0].ID}) },
		"count":  func() error { _, err := s.Count(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, vectorstore.ErrUnavailable) {
			t.Errorf("%s with the table missing = %v, want ErrUnavailable", name, err)
		}
	}
	exec(`ALTER TABLE away RENAME TO ` + s.qtable)
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s with the table back: %v", name, err)
		}
	}
}

// Below exactBelow rows Query scans exactly: the plan reads the table, not
// the graph, and the answer is the exact top k in order. The default
// sizing applies above it and wherever the size is not known yet.
func TestExactScanOnSmallTables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k     int
		n     int64
		fixed int
		want  int
	}{
		{10, -1, 0, 400},
		{10, 0, 0, 0},
		{10, exactBelow - 1, 0, 0},
		{10, exactBelow, 0, 400},
		{1, 5000, 0, 400},
		{20, 10_000, 0, 400},
		{10, 100_000, 0, 500},
		{10, 1_000_000, 0, 600},
		{200, 1_000_000, 0, 800},
		{300, 10_000_000, 0, 1000},
		{10, 10, 77, 77},
	} {
		s := &Store{exactRows: exactBelow}
		s.SetEfSearch(tc.fixed)
		if got := s.searchEf(tc.k, tc.n); got != tc.want {
			t.Errorf("searchEf(k=%d, n=%d, fixed %d) = %d, want %d", tc.k, tc.n, tc.fixed, got, tc.want)
		}
	}

	const n, dim, k = 300, 512, 10
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "exact-model", dim)
	if err != nil {
		t.Fatal(err)
	}
	vs := randomVectors(9, n, dim, []string{"a", "b"})
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.qtable); err != nil {
		t.Fatal(err)
	}
	sql, args := s.querySQL(vs[0].Values, k, vectormeta.Filter{}, 0)
	c, err := s.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	err = c.SendBatch(ctx, searchBatch(0, maxScanTuples, time.Second, "EXPLAIN "+sql, args, func(rows pgx.Rows) error {
		var err error
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})).Close()
	c.Release()
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); strings.Contains(p, "_hnsw") || !strings.Contains(p, "Seq Scan") {
		t.Errorf("exact search plan uses the index:\n%s", p)
	}
	for i, f := range []vectormeta.Filter{{}, {Category: "b"}} {
		q := randomVectors(uint64(20+i), 1, dim, []string{"a"})[0].Values
		got, err := s.Query(ctx, q, k, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if want := exactTop(vs, q, k, f); !slices.Equal(ids, want) {
			t.Errorf("filter %+v: %v, want the exact top %v in order", f, ids, want)
		}
	}
}

// TestSelectiveFilterFindsTheNearestMatches runs filters that pass 1-2% of
// sparse rows (like the hash embedder's) through the HNSW index with a short
// candidate list, so that the matches lie far down the ranking and come
// from the relaxed iterative scan's later rounds: every answer holds only
// rows that pass the filter, as many as k or all that pass, ranked by their
// true similarity with their exact scores, and nearly all of the exact top
// k. (Recall at 1M products is BenchmarkScaleSearch's business.)
func TestSelectiveFilterFindsTheNearestMatches(t *testing.T) {
	t.Parallel()
	const n, dim, k = 4000, 128, 10
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "selective-model", dim)
	if err != nil {
		t.Fatal(err)
	}
	s.SetEfSearch(40)
	cats := make([]string, 50)
	for i := range cats {
		cats[i] = string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	// Sparse vectors, like the hash embedder's: a query shares a few
	// coordinates with many rows, so similarities are close together.
	vs := randomVectors(11, n, dim, cats)
	sparsen := func(v []float32, keep int, r *rand.Rand) {
		for j := range v {
			if r.IntN(len(v)) >= keep {
				v[j] = 0
			}
		}
		v[r.IntN(len(v))] = 1
	}
	rs := rand.New(rand.NewPCG(5, 5))
	for _, v := range vs {
		sparsen(v.Values, 12, rs)
	}
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.qtable); err != nil {
		t.Fatal(err)
	}
	byID := map[string]vectorstore.Vector{}
	for _, v := range vs {
		byID[v.ID] = v
	}
	r := rand.New(rand.NewPCG(3, 3))
	var hits, total int
	for i := range 30 {
		q := randomVectors(r.Uint64(), 1, dim, cats)[0].Values
		sparsen(q, 4, r)
		hi := 700.0
		f := vectormeta.Filter{Category: cats[i%len(cats)]}
		if i%2 == 1 {
			f.MaxPrice = &hi
		}
		got, err := s.Query(ctx, q, k, f)
		if err != nil {
			t.Fatal(err)
		}
		want := exactTop(vs, q, k, f)
		if len(got) != len(want) {
			t.Errorf("filter %+v: %d results, want %d", f, len(got), len(want))
		}
		for j, m := range got {
			v := byID[m.ID]
			if !f.Match(v.Meta) {
				t.Errorf("filter %+v: result %s (%+v) does not pass it", f, m.ID, v.Meta)
			}
			if sim := testkit.Cosine(q, v.Values); math.Abs(float64(m.Score)-sim) > 1e-5 {
				t.Errorf("filter %+v: result %s scored %v, its similarity is %v", f, m.ID, m.Score, sim)
			}
			if j > 0 && m.Score > got[j-1].Score {
				t.Errorf("filter %+v: result %d (%v) ranks above result %d (%v)", f, j, m.Score, j-1, got[j-1].Score)
			}
			if slices.Contains(want, m.ID) {
				hits++
			}
		}
		total += len(want)
	}
	recall := float64(hits) / float64(total)
	t.Logf("recall@%d with selective filters at ef_search 40: %.3f", k, recall)
	if recall < 0.85 {
		t.Errorf("recall@%d with selective filters = %.3f, want >= 0.85", k, recall)
	}
}
