package pgvectorstore

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/internal/pgtest"
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

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func exactTop(vs []vectorstore.Vector, q []float32, k int, f vectormeta.Filter) []string {
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	for _, v := range vs {
		if f.Match(v.Meta) {
			all = append(all, sc{v.ID, cosine(q, v.Values)})
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

	sql, args := s.querySQL(q, k, vectormeta.Filter{})
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
	err = c.SendBatch(t.Context(), searchBatch(efSearch(10, 10_000), "EXPLAIN "+sql, args, func(rows pgx.Rows) error {
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
		sql, args := s.querySQL(vs[0].Values, 10, f)
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

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	tests := [][]float32{{}, {0}, {1, -2.5, 3e-7, float32(math.MaxFloat32), -float32(math.SmallestNonzeroFloat32)}}
	for _, v := range tests {
		b, err := appendBinary(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseBinary(b)
		if err != nil || !slices.Equal(got, v) {
			t.Errorf("binary round trip of %v = %v, %v", v, got, err)
		}
		got, err = parseText(string(appendText(nil, v)))
		if err != nil || !slices.Equal(got, v) {
			t.Errorf("text round trip of %v = %v, %v", v, got, err)
		}
	}
	for _, bad := range []string{"", "1,2", "[1,x]", "[1,,2]", "[1,2"} {
		if _, err := parseText(bad); err == nil {
			t.Errorf("parseText(%q) succeeded", bad)
		}
	}
	for _, bad := range [][]byte{nil, {0, 1}, {0, 1, 0, 0}, {0, 1, 0, 1, 0, 0, 0, 0}} {
		if _, err := parseBinary(bad); err == nil {
			t.Errorf("parseBinary(%v) succeeded", bad)
		}
	}
}

func FuzzParseBinary(f *testing.F) {
	b, _ := appendBinary(nil, []float32{1, 2, 3})
	f.Add(b)
	f.Fuzz(func(t *testing.T, src []byte) {
		v, err := parseBinary(src)
		if err != nil {
			return
		}
		again, err := appendBinary(nil, v)
		if err != nil || string(again) != string(src) {
			t.Fatalf("re-encoding %v gave %x, want %x (%v)", v, again, src, err)
		}
	})
}

func FuzzParseText(f *testing.F) {
	f.Add("[1,2.5,-3e-05]")
	f.Add("[]")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseText(s)
		if err != nil {
			return
		}
		again, err := parseText(string(appendText(nil, v)))
		if err != nil || len(again) != len(v) {
			t.Fatalf("re-parsing %v: %v, %v", v, again, err)
		}
		for i := range v {
			if again[i] != v[i] && !(v[i] != v[i] && again[i] != again[i]) {
				t.Fatalf("element %d: %v then %v", i, v[i], again[i])
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
	sql, args := s.querySQL(vs[0].Values, k, vectormeta.Filter{})
	c, err := s.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	err = c.SendBatch(ctx, searchBatch(0, "EXPLAIN "+sql, args, func(rows pgx.Rows) error {
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
