package catalog

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/product"
)

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := Generate(2000, 42), Generate(2000, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Generate(2000, 42) returned different catalogs on two calls")
	}
	if long := Generate(5000, 42); !reflect.DeepEqual(a, long[:len(a)]) {
		t.Fatal("Generate(2000, 42) is not a prefix of Generate(5000, 42)")
	}
	other := Generate(2000, 43)
	same := 0
	for i := range a {
		if a[i].Name == other[i].Name && a[i].Description == other[i].Description {
			same++
		}
	}
	if same > len(a)/20 {
		t.Fatalf("seeds 42 and 43 share %d of %d products; different seeds must give different catalogs", same, len(a))
	}
	if got := Generate(0, 1); len(got) != 0 {
		t.Fatalf("Generate(0, 1) returned %d products", len(got))
	}
}

func TestGenerateCatalogIsValidAndVaried(t *testing.T) {
	t.Parallel()
	ps := Generate(DefaultSeedCount, 1)
	if len(ps) != DefaultSeedCount {
		t.Fatalf("got %d products, want %d", len(ps), DefaultSeedCount)
	}
	skus := map[string]bool{}
	names := map[string]bool{}
	descs := map[string]bool{}
	cats := map[string]int{}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			t.Fatalf("generated product %s does not validate: %v", p.SKU, err)
		}
		if p.Price <= 0 {
			t.Errorf("product %s has price %s", p.SKU, p.Price)
		}
		if skus[p.SKU] {
			t.Fatalf("sku %s generated twice", p.SKU)
		}
		skus[p.SKU] = true
		names[p.Name] = true
		descs[p.Description] = true
		cats[p.Category]++
	}
	if len(cats) < 12 {
		t.Errorf("got %d categories (%v), want at least 12", len(cats), cats)
	}
	for c, n := range cats {
		if n < DefaultSeedCount/len(cats)/2 {
			t.Errorf("category %s has only %d of %d products", c, n, DefaultSeedCount)
		}
	}
	if len(descs) < len(ps)*95/100 {
		t.Errorf("only %d distinct descriptions in %d products", len(descs), len(ps))
	}
	if len(names) < 2000 {
		t.Errorf("only %d distinct names in %d products", len(names), len(ps))
	}
}

// TestGenerateHasSynonyms checks that the catalog says the same thing in
// different words, which is what gives semantic search something to find.
func TestGenerateHasSynonyms(t *testing.T) {
	t.Parallel()
	ps := Generate(DefaultSeedCount, 1)
	phrases := []string{
		"artificial intelligence", "machine learning", "ai-powered", "learns your habits",
		"keeps drinks hot", "sleeps four, waterproof", "cushioned for marathon training",
		"neural network", "deep learning",
	}
	for _, phrase := range phrases {
		n := 0
		for _, p := range ps {
			if strings.Contains(strings.ToLower(p.Description), phrase) {
				n++
			}
		}
		t.Logf("%q: %d descriptions", phrase, n)
		if n < 10 {
			t.Errorf("%d descriptions contain %q, want at least 10", n, phrase)
		}
	}
}

func TestGeneratePricesFitTheirKind(t *testing.T) {
	t.Parallel()
	ranges := map[string][2]product.Price{}
	for _, c := range seedCatalog() {
		if len(c.brands) == 0 || len(c.kinds) == 0 || len(c.features) == 0 || len(c.audiences) == 0 {
			t.Fatalf("category %s has an empty vocabulary list", c.name)
		}
		for _, k := range c.kinds {
			if len(k.variants) == 0 || len(k.lines) == 0 || len(k.materials) == 0 || k.lo <= 0 || k.hi <= k.lo {
				t.Fatalf("kind %s in %s is incomplete", k.noun, c.name)
			}
			ranges[k.noun] = [2]product.Price{product.Price(k.lo * 100), product.Price(k.hi * 100)}
		}
	}
	for _, p := range Generate(3000, 9) {
		kind := ""
		for noun := range ranges {
			if (strings.Contains(p.Name, " "+noun+" ") || strings.HasSuffix(p.Name, " "+noun)) && len(noun) > len(kind) {
				kind = noun
			}
		}
		r, ok := ranges[kind]
		if !ok {
			t.Errorf("cannot tell the kind of %q", p.Name)
			continue
		}
		if p.Price < r[0] || p.Price >= r[1] {
			t.Errorf("%s (%s) costs %s, outside %s-%s for a %s", p.Name, p.SKU, p.Price, r[0], r[1], kind)
		}
	}
}

func TestSeedInsertsTheGeneratedCatalog(t *testing.T) {
	t.Parallel()
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.New(t)
			const count = 12_000 // three chunks, the last one short
			var calls [][2]int
			n, err := Seed(ctx, pool, SeedOptions{Count: count, Seed: 5, Workers: workers, Progress: func(done, total int) {
				calls = append(calls, [2]int{done, total})
			}})
			if err != nil {
				t.Fatal(err)
			}
			if n != count {
				t.Fatalf("Seed inserted %d, want %d", n, count)
			}
			if len(calls) != 3 || calls[2] != [2]int{count, count} || calls[0][0] >= calls[1][0] || calls[1][0] >= calls[2][0] {
				t.Errorf("progress calls %v, want three increasing calls ending at %d of %d", calls, count, count)
			}
			if got := seedCount(t, pool, `SELECT count(*) FROM products`); got != count {
				t.Errorf("products has %d rows, want %d", got, count)
			}
			// A bulk load records its id ranges for the catch-up (the
			// backfill lane), not an outbox row per product.
			if got := seedCount(t, pool, `SELECT count(*) FROM sync_outbox`); got != 0 {
				t.Errorf("sync_outbox has %d rows, want none", got)
			}
			if got := seedCount(t, pool, `SELECT count(*) FROM products p WHERE EXISTS (
				SELECT 1 FROM backfill_ranges r WHERE p.id BETWEEN r.lo AND r.hi)`); got != count {
				t.Errorf("backfill ranges cover %d products, want %d", got, count)
			}
			if got := seedCount(t, pool, `SELECT count(DISTINCT category) FROM products`); got < 12 {
				t.Errorf("products has %d categories, want at least 12", got)
			}

			// The rows hold exactly the generated products.
			want := map[string]product.Product{}
			for _, p := range Generate(count, 5) {
				want[p.SKU] = p
			}
			rows, err := pool.Query(ctx, `SELECT sku, name, description, (price * 100)::bigint, category, version FROM products`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var p product.Product
				var cents, version int64
				if err := rows.Scan(&p.SKU, &p.Name, &p.Description, &cents, &p.Category, &version); err != nil {
					t.Fatal(err)
				}
				p.Price = product.Price(cents)
				if p != want[p.SKU] {
					t.Fatalf("row is %+v, want %+v", p, want[p.SKU])
				}
				if version != 1 {
					t.Fatalf("row %s has version %d, want 1", p.SKU, version)
				}
				delete(want, p.SKU)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(want) != 0 {
				t.Errorf("%d generated products are missing from the table", len(want))
			}
		})
	}
}

func TestSeedCancelledInsertsNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Seed(ctx, pool, SeedOptions{Count: 20_000, Workers: 2, Progress: func(done, total int) {
		cancel() // after the first chunk is in
	}})
	if err == nil {
		t.Fatal("Seed succeeded after its context was cancelled")
	}
	if got := seedCount(t, pool, `SELECT count(*) FROM products`); got != 0 {
		t.Errorf("products has %d rows after a cancelled seed, want 0", got)
	}
}

func TestSeedRerunIsSafe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	steps := []struct {
		count, want int
	}{
		{10, 10},    // fresh
		{100, 90},   // the first 10 exist already and are skipped
		{100, 0},    // nothing new
		{1000, 900}, // grows again
	}
	for _, s := range steps {
		n, err := Seed(ctx, pool, SeedOptions{Count: s.count, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if n != s.want {
			t.Errorf("Seed(count %d) inserted %d, want %d", s.count, n, s.want)
		}
	}
	if got := seedCount(t, pool, `SELECT count(*) FROM products`); got != 1000 {
		t.Errorf("products has %d rows, want 1000", got)
	}
	if got := seedCount(t, pool, `SELECT count(*) FROM sync_outbox`); got != 1000 {
		t.Errorf("sync_outbox has %d rows, want 1000 (skipped rows must not write any)", got)
	}
	if got := seedCount(t, pool, `SELECT max(version) FROM products`); got != 1 {
		t.Errorf("max version %d, want 1: re-seeding must not touch existing rows", got)
	}
}

func TestSeedRejectsNegativeCount(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	if _, err := Seed(context.Background(), pool, SeedOptions{Count: -1}); err == nil {
		t.Fatal("Seed with count -1 succeeded")
	}
	if got := seedCount(t, pool, `SELECT count(*) FROM products`); got != 0 {
		t.Errorf("products has %d rows after a rejected seed", got)
	}
}

func seedCount(t testing.TB, pool *pgxpool.Pool, sql string) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// BenchmarkSeed100k seeds 100,000 products into a fresh database per
// iteration; the target is well under 10 s (see rows/s).
func BenchmarkSeed100k(b *testing.B) {
	const count = 100_000
	ctx := context.Background()
	total := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pool := pgtest.New(b)
		b.StartTimer()
		n, err := Seed(ctx, pool, SeedOptions{Count: count, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		if n != count {
			b.Fatalf("seeded %d, want %d", n, count)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGenerate measures the generator alone, without Postgres.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		Generate(10_000, 1)
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
