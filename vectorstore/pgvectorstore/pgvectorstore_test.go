package pgvectorstore_test

import (
	"strings"
	"testing"

	"github.com/refarch/refarch/internal/pgtest"
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
