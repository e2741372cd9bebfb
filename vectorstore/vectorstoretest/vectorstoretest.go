// Package vectorstoretest is the one conformance suite every vectorstore.Store
// backend must pass, so that the pipeline and search can swap backends without
// noticing. Expected results are computed by brute force in float64 from the
// same seeded data, never copied from a backend.
package vectorstoretest

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// NewStore returns an empty store for vectors of dimension dim, private to t.
type NewStore func(t *testing.T, dim int) vectorstore.Store

// Model is the model id the suite writes into every vector's metadata.
const Model = "conformance-model"

// valueTolerance is how far a stored float32 may drift from what was written;
// backends store float32 exactly, the slack only absorbs codec rounding.
const valueTolerance = 1e-6

// scoreTolerance allows for float32 arithmetic inside the backends.
const scoreTolerance = 1e-4

// Run runs the conformance suite against the stores newStore returns.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newStore NewStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"DuplicateIDsInOneBatch", testDuplicateIDs},
		{"UpdateMetadataKeepsValues", testUpdateMetadata},
		{"Delete", testDelete},
		{"QueryOrderAndScores", testQueryOrder},
		{"QueryKLargerThanCount", testQueryKLarge},
		{"QueryFilters", testQueryFilters},
		{"EmptyInputs", testEmptyInputs},
		{"LargeBatch", testLargeBatch},
		{"LargeVectors", testLargeVectors},
		{"RejectsBadVectors", testRejectsBadVectors},
		{"Name", testName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore)
		})
	}
}

var categories = []string{"books", "garden", "kitchen", "toys"}

// dataset makes n seeded random vectors with metadata spread over four
// categories and prices from 0 to 500 with cents.
func dataset(seed uint64, n, dim int) []vectorstore.Vector {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]vectorstore.Vector, n)
	for i := range out {
		id := int64(i + 1)
		out[i] = vectorstore.Vector{
			ID:     vectormeta.VectorID(id),
			Values: randomVector(r, dim),
			Meta: vectormeta.Metadata{
				ProductID:   id,
				Version:     int64(1 + r.IntN(5)),
				ContentHash: fmt.Sprintf("%016x", r.Uint64()),
				Model:       Model,
				Category:    categories[r.IntN(len(categories))],
				Price:       float64(r.IntN(50000)) / 100,
			},
		}
	}
	return out
}

func randomVector(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for {
		var norm float64
		for i := range v {
			v[i] = float32(r.NormFloat64())
			norm += float64(v[i]) * float64(v[i])
		}
		if norm > 1e-6 {
			return v
		}
	}
}

type scored struct {
	id    string
	score float64
}

// bruteForce is the reference top-k: every vector that passes the filter,
// ordered by exact cosine similarity.
func bruteForce(vs []vectorstore.Vector, q []float32, k int, f vectormeta.Filter) []scored {
	var all []scored
	for _, v := range vs {
		if f.Match(v.Meta) {
			all = append(all, scored{v.ID, testkit.Cosine(q, v.Values)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
	if len(all) > k {
		all = all[:k]
	}
	return all
}

func ctx(t *testing.T) context.Context { return t.Context() }

func upsert(t *testing.T, s vectorstore.Store, vs []vectorstore.Vector) {
	t.Helper()
	if err := s.Upsert(ctx(t), vs); err != nil {
		t.Fatalf("upsert %d vectors: %v", len(vs), err)
	}
}

func count(t *testing.T, s vectorstore.Store) int {
	t.Helper()
	n, err := s.Count(ctx(t))
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func fetch(t *testing.T, s vectorstore.Store, ids []string) map[string]vectorstore.Vector {
	t.Helper()
	got, err := s.Fetch(ctx(t), ids)
	if err != nil {
		t.Fatalf("fetch %d ids: %v", len(ids), err)
	}
	return got
}

func ids(vs []vectorstore.Vector) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

// assertVector checks that got holds exactly want's metadata and values
// within float tolerance.
func assertVector(t *testing.T, got, want vectorstore.Vector) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("id = %q, want %q", got.ID, want.ID)
	}
	if got.Meta != want.Meta {
		t.Errorf("vector %s: metadata = %+v, want %+v", want.ID, got.Meta, want.Meta)
	}
	if len(got.Values) != len(want.Values) {
		t.Errorf("vector %s: %d values, want %d", want.ID, len(got.Values), len(want.Values))
		return
	}
	for i := range want.Values {
		if d := math.Abs(float64(got.Values[i] - want.Values[i])); d > valueTolerance*math.Max(1, math.Abs(float64(want.Values[i]))) {
			t.Errorf("vector %s: value[%d] = %v, want %v", want.ID, i, got.Values[i], want.Values[i])
			return
		}
	}
}

func assertFetched(t *testing.T, s vectorstore.Store, want []vectorstore.Vector) {
	t.Helper()
	got := fetch(t, s, ids(want))
	if len(got) != len(want) {
		t.Errorf("fetched %d vectors, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := got[w.ID]
		if !ok {
			t.Errorf("vector %s missing from fetch", w.ID)
			continue
		}
		assertVector(t, g, w)
	}
}

// assertMatches compares a query's answer with the brute-force reference:
// same ids in the same order, scores within tolerance, metadata as stored.
func assertMatches(t *testing.T, label string, got []vectorstore.Match, want []scored, byID map[string]vectorstore.Vector) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d matches, want %d", label, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i].ID != want[i].id {
			// Near-ties may swap; accept only if the reference scores agree.
			if math.Abs(float64(got[i].Score)-want[i].score) > scoreTolerance {
				t.Errorf("%s: match %d = %s (score %v), want %s (score %v)", label, i, got[i].ID, got[i].Score, want[i].id, want[i].score)
				continue
			}
		}
		if math.Abs(float64(got[i].Score)-want[i].score) > scoreTolerance {
			t.Errorf("%s: match %d (%s) score = %v, want %v", label, i, got[i].ID, got[i].Score, want[i].score)
		}
		if v, ok := byID[got[i].ID]; ok && got[i].Meta != v.Meta {
			t.Errorf("%s: match %s metadata = %+v, want %+v", label, got[i].ID, got[i].Meta, v.Meta)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score > got[i-1].Score {
			t.Errorf("%s: scores not descending at %d: %v > %v", label, i, got[i].Score, got[i-1].Score)
		}
	}
}

func index(vs []vectorstore.Vector) map[string]vectorstore.Vector {
	m := make(map[string]vectorstore.Vector, len(vs))
	for _, v := range vs {
		m[v.ID] = v
	}
	return m
}

func testRoundTrip(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	vs := dataset(1, 3, 8)
	vs[0].Meta.Price = 0
	vs[1].Meta.Price = 1234.56
	vs[2].Meta.ContentHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	vs[2].Meta.ProductID = 1 << 40
	vs[2].ID = vectormeta.VectorID(vs[2].Meta.ProductID)
	vs[2].Meta.Version = 1<<40 + 7
	upsert(t, s, vs)
	assertFetched(t, s, vs)
	got := fetch(t, s, []string{vs[0].ID, "999999"})
	if _, ok := got["999999"]; ok || len(got) != 1 {
		t.Errorf("fetch with an unknown id returned %d vectors (%v), want only %s", len(got), slices.Collect(maps.Keys(got)), vs[0].ID)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("count = %d, want 3", n)
	}
}

func testOverwrite(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	vs := dataset(2, 4, 8)
	upsert(t, s, vs)
	next := dataset(3, 2, 8) // same ids 1 and 2, new values and metadata, newer versions
	next[0].Meta.Version = 10
	next[1].Meta.Version = vs[1].Meta.Version + 1
	next[1].Meta.Category = "other"
	upsert(t, s, next)
	assertFetched(t, s, append(next, vs[2:]...))
	if n := count(t, s); n != 4 {
		t.Errorf("count after overwrite = %d, want 4", n)
	}
}

func testDuplicateIDs(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	a := dataset(4, 1, 8)[0]
	b := dataset(5, 1, 8)[0]
	b.Meta.Version = a.Meta.Version + 1
	upsert(t, s, []vectorstore.Vector{a, b})
	assertFetched(t, s, []vectorstore.Vector{b})
	if n := count(t, s); n != 1 {
		t.Errorf("count = %d, want 1", n)
	}
}

func testUpdateMetadata(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	vs := dataset(6, 3, 8)
	upsert(t, s, vs)
	m0 := vs[0].Meta
	m0.Version++
	m0.Price = 9.99
	m0.Category = "sale"
	m2 := vs[2].Meta
	m2.Version += 3
	overwritten := m0 // given first for the same product: the later m0 wins
	overwritten.Category = "overwritten"
	unknown := vectormeta.Metadata{ProductID: 777, Version: 1, ContentHash: "x", Model: Model, Category: "books", Price: 1}
	if err := s.UpdateMetadata(ctx(t), []vectormeta.Metadata{overwritten, unknown, m2, m0}); err != nil {
		t.Fatalf("update metadata: %v", err)
	}
	want := slices.Clone(vs)
	want[0].Meta = m0
	want[2].Meta = m2
	assertFetched(t, s, want)
	if got := fetch(t, s, []string{"777"}); len(got) != 0 {
		t.Errorf("update of an unknown id created a vector: %+v", got)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("count = %d, want 3", n)
	}
	// The filter sees the new metadata.
	res, err := s.Query(ctx(t), vs[0].Values, 3, vectormeta.Filter{Category: "sale"})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if len(res) != 1 || res[0].ID != vs[0].ID || res[0].Meta != m0 {
		t.Errorf("query by updated category = %+v, want only %s with %+v", res, vs[0].ID, m0)
	}
}

func testDelete(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	vs := dataset(7, 5, 8)
	upsert(t, s, vs)
	if err := s.Delete(ctx(t), []string{vs[1].ID, "424242", vs[3].ID}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got := fetch(t, s, ids(vs))
	for _, gone := range []string{vs[1].ID, vs[3].ID} {
		if _, ok := got[gone]; ok {
			t.Errorf("vector %s still there after delete", gone)
		}
	}
	assertFetched(t, s, []vectorstore.Vector{vs[0], vs[2], vs[4]})
	if n := count(t, s); n != 3 {
		t.Errorf("count after delete = %d, want 3", n)
	}
	res, err := s.Query(ctx(t), vs[1].Values, 10, vectormeta.Filter{})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	for _, m := range res {
		if m.ID == vs[1].ID || m.ID == vs[3].ID {
			t.Errorf("deleted vector %s returned by query", m.ID)
		}
	}
	if err := s.Delete(ctx(t), []string{vs[1].ID}); err != nil {
		t.Errorf("deleting an already deleted id: %v", err)
	}
}

func testQueryOrder(t *testing.T, newStore NewStore) {
	const dim = 16
	s := newStore(t, dim)
	vs := dataset(8, 300, dim)
	upsert(t, s, vs)
	byID := index(vs)
	r := rand.New(rand.NewPCG(80, 81))
	for i := range 8 {
		q := randomVector(r, dim)
		if i == 0 {
			q = slices.Clone(vs[17].Values) // an exact hit scores 1
		}
		for _, k := range []int{1, 10} {
			got, err := s.Query(ctx(t), q, k, vectormeta.Filter{})
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			assertMatches(t, fmt.Sprintf("query %d k=%d", i, k), got, bruteForce(vs, q, k, vectormeta.Filter{}), byID)
		}
	}
}

func testQueryKLarge(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	vs := dataset(9, 5, 8)
	upsert(t, s, vs)
	q := randomVector(rand.New(rand.NewPCG(9, 9)), 8)
	got, err := s.Query(ctx(t), q, 50, vectormeta.Filter{})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	assertMatches(t, "k=50 over 5 vectors", got, bruteForce(vs, q, 50, vectormeta.Filter{}), index(vs))
}

func price(p float64) *float64 { return &p }

func testQueryFilters(t *testing.T, newStore NewStore) {
	const dim = 16
	s := newStore(t, dim)
	vs := dataset(10, 400, dim)
	vs[0].Meta.Price, vs[1].Meta.Price = 100, 200 // inclusive bounds
	vs[0].Meta.Category, vs[1].Meta.Category = "kitchen", "kitchen"
	upsert(t, s, vs)
	byID := index(vs)
	filters := []struct {
		name string
		f    vectormeta.Filter
	}{
		{"category", vectormeta.Filter{Category: "garden"}},
		{"price range", vectormeta.Filter{MinPrice: price(100), MaxPrice: price(200)}},
		{"min price", vectormeta.Filter{MinPrice: price(450)}},
		{"max price", vectormeta.Filter{MaxPrice: price(25.5)}},
		{"category and price", vectormeta.Filter{Category: "kitchen", MinPrice: price(100), MaxPrice: price(200)}},
		{"free only", vectormeta.Filter{MaxPrice: price(0)}},
		{"no such category", vectormeta.Filter{Category: "nothing"}},
		{"empty range", vectormeta.Filter{MinPrice: price(300), MaxPrice: price(200)}},
	}
	r := rand.New(rand.NewPCG(100, 101))
	queries := [][]float32{vs[0].Values, randomVector(r, dim), randomVector(r, dim)}
	for _, fc := range filters {
		for i, q := range queries {
			for _, k := range []int{5, 20} {
				got, err := s.Query(ctx(t), q, k, fc.f)
				if err != nil {
					t.Fatalf("query %s: %v", fc.name, err)
				}
				want := bruteForce(vs, q, k, fc.f)
				assertMatches(t, fmt.Sprintf("%s query %d k=%d", fc.name, i, k), got, want, byID)
				for _, m := range got {
					if !fc.f.Match(m.Meta) {
						t.Errorf("%s: match %s with %+v does not pass the filter", fc.name, m.ID, m.Meta)
					}
				}
			}
		}
	}
}

func testEmptyInputs(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	if err := s.Upsert(ctx(t), nil); err != nil {
		t.Errorf("upsert nothing: %v", err)
	}
	if err := s.UpdateMetadata(ctx(t), nil); err != nil {
		t.Errorf("update no metadata: %v", err)
	}
	if err := s.Delete(ctx(t), nil); err != nil {
		t.Errorf("delete nothing: %v", err)
	}
	if got, err := s.Fetch(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("fetch nothing = %v, %v; want empty", got, err)
	}
	if got, err := s.Fetch(ctx(t), []string{"1"}); err != nil || len(got) != 0 {
		t.Errorf("fetch from an empty store = %v, %v; want empty", got, err)
	}
	q := randomVector(rand.New(rand.NewPCG(1, 2)), 8)
	if got, err := s.Query(ctx(t), q, 10, vectormeta.Filter{}); err != nil || len(got) != 0 {
		t.Errorf("query an empty store = %v, %v; want empty", got, err)
	}
	if n := count(t, s); n != 0 {
		t.Errorf("count of an empty store = %d", n)
	}
}

func testLargeBatch(t *testing.T, newStore NewStore) {
	const dim, n = 32, 2500
	s := newStore(t, dim)
	vs := dataset(11, n, dim)
	upsert(t, s, vs)
	if got := count(t, s); got != n {
		t.Fatalf("count after upserting %d = %d", n, got)
	}
	assertFetched(t, s, vs)
	metas := make([]vectormeta.Metadata, n)
	for i, v := range vs {
		metas[i] = v.Meta
		metas[i].Version++
		vs[i].Meta = metas[i]
	}
	if err := s.UpdateMetadata(ctx(t), metas); err != nil {
		t.Fatalf("update %d metadata: %v", n, err)
	}
	assertFetched(t, s, []vectorstore.Vector{vs[0], vs[999], vs[1000], vs[n-1]})
	if err := s.Delete(ctx(t), ids(vs[:n-1])); err != nil {
		t.Fatalf("delete %d: %v", n-1, err)
	}
	if got := count(t, s); got != 1 {
		t.Errorf("count after deleting all but one = %d", got)
	}
}

// testLargeVectors needs splitting by request size, not only by count:
// 1,100 vectors of 1,536 float32 are about 6.8 MB.
func testLargeVectors(t *testing.T, newStore NewStore) {
	const dim, n = 1536, 1100
	s := newStore(t, dim)
	vs := dataset(12, n, dim)
	upsert(t, s, vs)
	if got := count(t, s); got != n {
		t.Fatalf("count after upserting %d = %d", n, got)
	}
	assertFetched(t, s, []vectorstore.Vector{vs[0], vs[n/2], vs[n-1]})
	got, err := s.Query(ctx(t), vs[n-1].Values, 1, vectormeta.Filter{})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if len(got) != 1 || got[0].ID != vs[n-1].ID || math.Abs(float64(got[0].Score)-1) > scoreTolerance {
		t.Errorf("query by a stored vector = %+v, want %s with score 1", got, vs[n-1].ID)
	}
}

// testRejectsBadVectors checks that Upsert and Query refuse what has no
// cosine similarity or does not fit the store, and that a batch with one bad
// vector writes nothing.
func testRejectsBadVectors(t *testing.T, newStore NewStore) {
	s := newStore(t, 3)
	good := vectorstore.Vector{ID: "2", Values: []float32{1, 2, 3}, Meta: vectormeta.Metadata{ProductID: 2, Version: 1, Model: Model}}
	tests := []struct {
		name   string
		values []float32
	}{
		{"short", []float32{1, 2}},
		{"long", []float32{1, 2, 3, 4}},
		{"zero", []float32{0, 0, 0}},
		{"nan", []float32{1, float32(math.NaN()), 0}},
		{"inf", []float32{1, float32(math.Inf(1)), 0}},
	}
	for _, tc := range tests {
		bad := vectorstore.Vector{ID: "1", Values: tc.values, Meta: vectormeta.Metadata{ProductID: 1, Version: 1, Model: Model}}
		if err := s.Upsert(ctx(t), []vectorstore.Vector{good, bad}); err == nil {
			t.Errorf("upsert with a %s vector succeeded", tc.name)
		}
		if _, err := s.Query(ctx(t), tc.values, 1, vectormeta.Filter{}); err == nil {
			t.Errorf("query with a %s vector succeeded", tc.name)
		}
	}
	if n := count(t, s); n != 0 {
		t.Errorf("count after rejected upserts = %d, want 0", n)
	}
}

func testName(t *testing.T, newStore NewStore) {
	s := newStore(t, 8)
	if s.Name() == "" {
		t.Error("Name() is empty")
	}
}
