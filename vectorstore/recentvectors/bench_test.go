package recentvectors_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// BenchmarkRecent is what every search pays for the recent writes when the
// table is at its cap: 1,000 vectors of 512 dimensions, the best 21 (k = 20
// and one more for paging) asked for.
func BenchmarkRecent(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.New(b)
	r := rand.New(rand.NewPCG(1, 2))
	randVec := func() []float32 {
		v := make([]float32, 512)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	var vs []vectorstore.Vector
	for pid := int64(1); pid <= recentvectors.DefaultLimit; pid++ {
		vs = append(vs, vectorstore.Vector{ID: vectormeta.VectorID(pid), Values: randVec(),
			Meta: vectormeta.Metadata{ProductID: pid, Version: 1, Model: model}})
	}
	if err := recentvectors.Record(ctx, pool, model, vs, recentvectors.Options{}); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE recent_vectors`); err != nil {
		b.Fatal(err)
	}
	s := recentvectors.NewScanner(pool, model, recentvectors.Options{})
	q := randVec()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Recent(ctx, q, 21, vectormeta.Filter{}, nil)
		if err != nil || len(got) == 0 {
			b.Fatal(err, len(got))
		}
	}
}
