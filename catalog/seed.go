package catalog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/refarch/refarch/product"
)

// DefaultSeedCount is how many products Seed generates when no count is given.
const DefaultSeedCount = 10_000

// seedChunk is how many rows go through COPY between progress reports.
const seedChunk = 5_000

// defaultSeedWorkers is how many connections Seed uses when
// SeedOptions.Workers is not set: one per CPU, as Postgres is usually local
// when seeding, but at least two (the triggers make the database the
// bottleneck) and at most eight.
func defaultSeedWorkers() int {
	return min(max(runtime.GOMAXPROCS(0), 2), 8)
}

// SeedOptions configures Seed.
type SeedOptions struct {
	// Count is how many products to generate; 0 means DefaultSeedCount.
	Count int
	// Seed selects the catalog; the same seed always gives the same products
	// in the same order.
	Seed int64
	// Progress, if set, is called after each chunk with the rows processed so
	// far and the total. Calls never overlap.
	Progress func(done, total int)
	// Workers is how many connections insert in parallel; 0 means one per
	// CPU, between two and eight.
	Workers int
}

// Seed inserts Count generated products with COPY and returns how many rows
// it actually inserted.
//
// The SKU of the i-th product depends only on its category and i, and the
// catalog for a seed is the same list whatever the count (Generate(10, s) is
// a prefix of Generate(100, s)). Rows whose SKU already exists are skipped
// (ON CONFLICT (sku) DO NOTHING) and left untouched, so re-running Seed is
// safe: seeding 10 and then 100 with the same seed inserts 10 and then 90.
//
// The per-row triggers (outbox, version) and the table's indexes cost far
// more than COPY itself, so chunks are spread over Workers connections. Each
// worker holds its own transaction and all of them commit only once every
// chunk is in: a failure or a cancelled context inserts nothing. Only a
// failed COMMIT after another worker's COMMIT can leave part of the catalog
// behind, and then re-running Seed completes it.
func Seed(ctx context.Context, pool *pgxpool.Pool, o SeedOptions) (int, error) {
	count := o.Count
	if count < 0 {
		return 0, fmt.Errorf("seed: count must not be negative, got %d", count)
	}
	if count == 0 {
		count = DefaultSeedCount
	}
	chunks := (count + seedChunk - 1) / seedChunk
	workers := o.Workers
	if workers <= 0 {
		workers = defaultSeedWorkers()
	}
	workers = min(workers, chunks)

	var (
		mu       sync.Mutex
		done     int
		inserted int
		txs      = make([]pgx.Tx, workers)
	)
	defer func() {
		for _, tx := range txs {
			if tx != nil {
				tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
			}
		}
	}()
	for w := range txs {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return 0, fmt.Errorf("seed: begin transaction: %w", err)
		}
		txs[w] = tx
		if err := createStage(ctx, tx, "seed_stage"); err != nil {
			return 0, fmt.Errorf("seed: %w", err)
		}
	}
	eg, ectx := errgroup.WithContext(ctx)
	for w, tx := range txs {
		eg.Go(func() error {
			// Chunks are dealt round-robin so that ids roughly follow the
			// generation order.
			g := newSeedGenerator(o.Seed)
			for c := w; c < chunks; c += workers {
				start, end := c*seedChunk, min((c+1)*seedChunk, count)
				n, err := seedChunkInsert(ectx, tx, g, start, end)
				if err != nil {
					return err
				}
				mu.Lock()
				done += end - start
				inserted += n
				if o.Progress != nil {
					o.Progress(done, count)
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return 0, err
	}
	for w, tx := range txs {
		if err := tx.Commit(ctx); err != nil {
			if w > 0 {
				return 0, fmt.Errorf("seed: commit (part of the catalog was committed; run seed again to complete it): %w", err)
			}
			return 0, fmt.Errorf("seed: commit: %w", err)
		}
	}
	return inserted, nil
}

// seedChunkInsert inserts products [start, end) in tx, through the staging
// table, and returns how many were new.
func seedChunkInsert(ctx context.Context, tx pgx.Tx, g *seedGenerator, start, end int) (int, error) {
	rows := make([][]any, 0, end-start)
	for i := start; i < end; i++ {
		rows = append(rows, stageRow(i, g.product(i)))
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"seed_stage"}, stageColumns, pgx.CopyFromRows(rows)); err != nil {
		return 0, fmt.Errorf("seed: copy products %d-%d: %w", start+1, end, err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO products (sku, name, description, price, category)
		SELECT sku, name, description, price_cents / 100.0, category FROM seed_stage ORDER BY ord
		ON CONFLICT (sku) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("seed: insert products %d-%d: %w", start+1, end, err)
	}
	if _, err := tx.Exec(ctx, `TRUNCATE seed_stage`); err != nil {
		return 0, fmt.Errorf("seed: clear staging table: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Generate returns the deterministic catalog for seed without touching a
// database. Product i depends only on seed and i, so a longer catalog extends
// a shorter one. IDs and timestamps are left zero: the database sets them.
func Generate(count int, seed int64) []product.Product {
	if count <= 0 {
		return nil
	}
	g := newSeedGenerator(seed)
	out := make([]product.Product, count)
	for i := range out {
		out[i] = g.product(i)
	}
	return out
}

// seedGenerator builds products from the category vocabulary.
type seedGenerator struct {
	seed       uint64
	cats       []seedCategory
	smart      []string
	materialFs []string
	audienceFs []string
	closers    []string
	suffixes   []string
}

func newSeedGenerator(seed int64) *seedGenerator {
	return &seedGenerator{
		seed:       uint64(seed),
		cats:       seedCatalog(),
		smart:      seedSmartLines(),
		materialFs: seedMaterialForms(),
		audienceFs: seedAudienceForms(),
		closers:    seedClosers(),
		suffixes:   seedNameSuffixes(),
	}
}

// product returns the i-th product. Each product has its own random stream
// (seeded by the catalog seed and i) so that it does not depend on how many
// products came before it.
func (g *seedGenerator) product(i int) product.Product {
	r := rand.New(rand.NewPCG(g.seed, uint64(i)^0x9e3779b97f4a7c15))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	chance := func(percent int) bool { return r.IntN(100) < percent }

	cat := &g.cats[r.IntN(len(g.cats))]
	kind := &cat.kinds[r.IntN(len(cat.kinds))]

	name := pick(cat.brands) + " " + pick(kind.variants) + " " + kind.noun
	if chance(35) {
		name += " " + pick(g.suffixes)
	}

	noun := strings.ToLower(kind.noun)
	// The first sentence always says what the product does; the rest are
	// shuffled so that descriptions of the same kind read differently.
	lines := r.Perm(len(kind.lines))
	first := kind.lines[lines[0]]
	var rest []string
	if len(lines) > 1 && chance(70) {
		rest = append(rest, kind.lines[lines[1]])
	}
	if kind.smart && chance(60) {
		rest = append(rest, strings.ReplaceAll(pick(g.smart), "%s", noun))
	}
	if chance(75) {
		rest = append(rest, pick(cat.features))
	}
	if len(kind.materials) > 0 && chance(70) {
		rest = append(rest, strings.ReplaceAll(pick(g.materialFs), "%s", pick(kind.materials)))
	}
	if chance(85) {
		rest = append(rest, strings.ReplaceAll(pick(g.audienceFs), "%s", pick(cat.audiences)))
	}
	r.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	if chance(35) {
		rest = append(rest, pick(g.closers))
	}
	desc := strings.Join(append([]string{first}, rest...), " ")

	return product.Product{
		SKU:         fmt.Sprintf("%s-%06d", cat.prefix, i+1),
		Name:        name,
		Description: desc,
		Price:       seedPrice(r, kind.lo, kind.hi),
		Category:    cat.name,
	}
}

// seedPrice picks a price in [lo, hi] whole units with the endings shops use
// (mostly .99 and .49, some round, some arbitrary cents).
func seedPrice(r *rand.Rand, lo, hi int) product.Price {
	whole := int64(lo)
	if hi > lo {
		whole += r.Int64N(int64(hi - lo))
	}
	var cents int64
	switch n := r.IntN(100); {
	case n < 50:
		cents = 99
	case n < 70:
		cents = 49
	case n < 85:
		cents = 0
	default:
		cents = r.Int64N(100)
	}
	return product.Price(whole*100 + cents)
}
