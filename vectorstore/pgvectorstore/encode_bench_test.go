package pgvectorstore

import (
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

// BenchmarkEncodeUpsertBatch is the client-side cost of one Upsert batch's
// vectors (100 of 512 dimensions) in pgvector-go's binary format, apart from
// the round trip and the HNSW inserts that dominate BenchmarkPgvectorUpsert.
func BenchmarkEncodeUpsertBatch(b *testing.B) {
	const dim, batch = 512, 100
	r := rand.New(rand.NewPCG(1, 1))
	vals := make([][]float32, batch)
	for i := range vals {
		vals[i] = make([]float32, dim)
		for j := range vals[i] {
			vals[i][j] = r.Float32()
		}
	}
	m := pgtype.NewMap()
	vt := &pgtype.Type{Name: "vector", OID: 90001, Codec: &pgxvec.VectorCodec{}}
	m.RegisterType(vt)
	m.RegisterType(&pgtype.Type{Name: "_vector", OID: 90002, Codec: &pgtype.ArrayCodec{ElementType: vt}})
	var buf []byte
	for b.Loop() {
		w := make([]pgvector.Vector, batch)
		for i := range vals {
			w[i] = pgvector.NewVector(vals[i])
		}
		var err error
		buf, err = m.Encode(90002, pgtype.BinaryFormatCode, w, buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
