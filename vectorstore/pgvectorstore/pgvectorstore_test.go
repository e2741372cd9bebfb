package pgvectorstore_test

import (
	"strings"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
	"github.com/refarch/refarch/vectorstore/vectorstoretest"
)

func newStore(t *testing.T, dim int) vectorstore.Store {
	t.Helper()
	s, err := pgvectorstore.New(t.Context(), pgtest.New(t), vectorstoretest.Model, dim)
	if err != nil {
		t.Fatalf("new pgvector store: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	vectorstoretest.Run(t, newStore)
}

// A write of an older version than the stored one changes nothing, upsert
// or metadata update: a statement whose client gave up can still run on the
// server after a newer version was written (see UpdateMetadata).
func TestOlderVersionNeverReplacesNewer(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := t.Context()
	v := func(version int64, x float32, category string) vectorstore.Vector {
		return vectorstore.Vector{ID: vectormeta.VectorID(7), Values: []float32{x, 1, 0, 0},
			Meta: vectormeta.Metadata{ProductID: 7, Version: version, ContentHash: "h", Model: vectorstoretest.Model, Category: category, Price: 1}}
	}
	check := func(when string, want vectorstore.Vector) {
		t.Helper()
		got, err := s.Fetch(ctx, []string{want.ID})
		if err != nil {
			t.Fatal(err)
		}
		if g := got[want.ID]; g.Meta != want.Meta || g.Values[0] != want.Values[0] {
			t.Fatalf("%s: stored %+v %v, want %+v %v", when, g.Meta, g.Values, want.Meta, want.Values)
		}
	}
	if err := s.Upsert(ctx, []vectorstore.Vector{v(5, 1, "new")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(ctx, []vectorstore.Vector{v(4, 2, "old")}); err != nil {
		t.Fatal(err)
	}
	check("after an older upsert", v(5, 1, "new"))
	if err := s.UpdateMetadata(ctx, []vectormeta.Metadata{v(4, 2, "old").Meta}); err != nil {
		t.Fatal(err)
	}
	check("after an older metadata update", v(5, 1, "new"))
	if err := s.UpdateMetadata(ctx, []vectormeta.Metadata{v(6, 1, "newer").Meta}); err != nil {
		t.Fatal(err)
	}
	check("after a newer metadata update", v(6, 1, "newer"))
	if err := s.Upsert(ctx, []vectorstore.Vector{v(7, 3, "newest")}); err != nil {
		t.Fatal(err)
	}
	check("after a newer upsert", v(7, 3, "newest"))
}

func TestTableName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("very-long-model-name/", 5)
	tests := []struct {
		model string
		dim   int
		want  string
	}{
		{"use-lite", 512, "vectors_use_lite_512"},
		{"Ollama:nomic-embed-text:v1.5", 768, "vectors_ollama_nomic_embed_text_v1_5_768"},
		{`x"; DROP TABLE products; --`, 8, "vectors_x_drop_table_products_8"},
		{"---", 3, "vectors_model_3"},
		{long, 1536, ""},
	}
	for _, tc := range tests {
		got := pgvectorstore.TableName(tc.model, tc.dim)
		if tc.want != "" && got != tc.want {
			t.Errorf("TableName(%q, %d) = %q, want %q", tc.model, tc.dim, got, tc.want)
		}
		if len(got)+len("_category") > 63 {
			t.Errorf("TableName(%q, %d) = %q leaves no room for index names", tc.model, tc.dim, got)
		}
	}
	if a, b := pgvectorstore.TableName(long, 8), pgvectorstore.TableName(long+"x", 8); a == b {
		t.Errorf("long model ids share table %q", a)
	}
}
