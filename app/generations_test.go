package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue/sqsqueue"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore/pineconestore/pineconetest"
)

// A model switch while changes flow (issue 13): the default generation is
// active on a catalog; a generation with another dimension is created while
// random edits, inserts and deletes run and searches go on. No search errs
// or comes back empty; the new generation is promoted once complete (and
// promoting back and forth is instant); it then equals the table (ids,
// versions, content hashes, in index_state and in its store) and searches
// embed with its model; dropping the old generation deletes its vectors
// and state. Against pgvector with the Postgres queue, and against the
// Pinecone stand-in, each with the Postgres queue and with SQS (moto).
func TestGenerationSwitchWhileChangesFlow(t *testing.T) {
	t.Parallel()
	pinecone := func(t *testing.T, cfg *Config) {
		srv := pineconetest.New(t)
		cfg.VectorStore, cfg.PineconeAPIKey, cfg.PineconeControlHost, cfg.PineconeIndex = "pinecone", pineconetest.APIKey, srv.ControlURL(), "refarch-gen"
	}
	sqsQueue := func(t *testing.T, cfg *Config) {
		endpoint := os.Getenv("TEST_SQS_ENDPOINT")
		if endpoint == "" {
			t.Skip("TEST_SQS_ENDPOINT is not set: start moto with `make moto`")
		}
		client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
		name := "refarch-gen-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		qURL, dlqURL, err := sqsqueue.CreateQueues(context.Background(), client, name, 5)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sqsqueue.DeleteQueues(context.Background(), client, qURL, dlqURL) })
		// The backfill lane's FIFO queue: a new generation's backfill
		// travels there, behind live changes.
		bURL, bdlqURL, err := sqsqueue.CreateQueues(context.Background(), client, name+"-backfill", 5)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sqsqueue.DeleteQueues(context.Background(), client, bURL, bdlqURL) })
		cfg.Queue, cfg.SQSQueueURL, cfg.SQSDLQURL, cfg.SQSEndpoint, cfg.AWSRegion = "sqs", qURL, dlqURL, endpoint, "us-east-1"
		cfg.SQSBackfillQueueURL, cfg.SQSBackfillDLQURL = bURL, bdlqURL
		cfg.sqsKeys = [2]string{"test", "test"}
	}
	for _, tc := range []struct {
		name       string
		setup      []func(*testing.T, *Config)
		products   int
		writeEvery time.Duration
	}{
		{"pgvector+postgres", nil, 1500, 5 * time.Millisecond},
		{"pinecone+postgres", []func(*testing.T, *Config){pinecone}, 600, 10 * time.Millisecond},
		// moto answers a few hundred calls a second at best: a smaller
		// catalog and fewer writes.
		{"pgvector+sqs", []func(*testing.T, *Config){sqsQueue}, 80, 200 * time.Millisecond},
		{"pinecone+sqs", []func(*testing.T, *Config){pinecone, sqsQueue}, 80, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			for _, f := range tc.setup {
				f(t, &cfg)
			}
			testGenerationSwitch(t, cfg, tc.products, tc.writeEvery)
		})
	}
}

func testGenerationSwitch(t *testing.T, cfg Config, products int, writeEvery time.Duration) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := catalog.Seed(ctx, pool, catalog.SeedOptions{Count: products}); err != nil {
		t.Fatal(err)
	}
	logw := io.Discard
	if os.Getenv("GEN_TEST_LOG") != "" {
		logw = os.Stderr
	}
	stop := startLogging(t, cfg, Roles{Serve: true, Pelican: true, Emu: true}, logw)
	defer stop()
	old := generationNamed(t, pool, generations.Active)
	waitComplete(t, pool, old.Name)

	// Queries that match before the switch: product names.
	var queries []string
	rows, err := pool.Query(ctx, `SELECT name FROM products ORDER BY id LIMIT 12`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		queries = append(queries, n)
	}
	for _, q := range queries {
		if n, err := searchCount(cfg.Addr, q); err != nil || n == 0 {
			t.Fatalf("search %q before the switch: %d results, %v", q, n, err)
		}
	}

	// Writers and searchers run through the whole switch.
	wctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var searches, searchFailures int64
	var mu sync.Mutex
	var firstFailure string
	wg.Go(func() { randomWrites(wctx, t, pool, writeEvery) })
	for w := range 2 {
		wg.Go(func() {
			for i := w; wctx.Err() == nil; i++ {
				q := queries[i%len(queries)]
				n, err := searchCount(cfg.Addr, q)
				mu.Lock()
				searches++
				if err != nil || n == 0 {
					searchFailures++
					if firstFailure == "" {
						firstFailure = fmt.Sprintf("search %q: %d results, %v", q, n, err)
					}
				}
				mu.Unlock()
			}
		})
	}

	next := cfg
	next.HashDim = 128
	created, _, err := IndexCreate(ctx, next, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.State != generations.Building || created.Dims != 128 || created.Name == old.Name {
		t.Fatalf("created %+v, want a building generation of 128 dimensions", created)
	}
	var incomplete generations.IncompleteError
	if _, err := IndexPromote(ctx, cfg, created.Name, false); !errors.As(err, &incomplete) || incomplete.Missing == 0 {
		t.Errorf("promote right after create: %v, want it refused as incomplete with the rows missing", err)
	}
	// Promote as soon as the backfill has caught up with the writes.
	testkit.WaitFor(t, 3*time.Minute, func() string {
		_, err := IndexPromote(ctx, cfg, created.Name, false)
		if err != nil {
			return "promote: " + err.Error()
		}
		return ""
	})
	// Back and forth: the retired generation was kept up to date.
	for _, name := range []string{old.Name, created.Name} {
		testkit.WaitFor(t, time.Minute, func() string {
			start := time.Now()
			if _, err := IndexPromote(ctx, cfg, name, false); err != nil {
				return "promote " + name + ": " + err.Error()
			}
			t.Logf("promote %s took %s", name, time.Since(start).Round(time.Millisecond))
			return ""
		})
	}
	time.Sleep(2 * generations.PollInterval / 5) // searches go on across the switch
	stopLoad()
	wg.Wait()
	if searchFailures > 0 {
		t.Errorf("%d of %d searches during the switch failed or came back empty; first: %s", searchFailures, searches, firstFailure)
	}
	t.Logf("%d searches during the switch", searches)

	waitComplete(t, pool, created.Name)
	waitComplete(t, pool, old.Name)
	checkGenerationEqualsTable(t, cfg, pool, created.Name)
	checkGenerationEqualsTable(t, cfg, pool, old.Name)

	// Searches embed with the new model: the top score is the cosine of
	// the 128-dimension hash vectors.
	emb := embedding.NewHash(128)
	testkit.WaitFor(t, 30*time.Second, func() string {
		res, err := searchResults(cfg.Addr, queries[0])
		if err != nil || len(res) == 0 {
			return fmt.Sprintf("search: %v (%d results)", err, len(res))
		}
		var p product.Product
		if err := pool.QueryRow(ctx, `SELECT name, description, category FROM products WHERE id = $1`, res[0].ID).Scan(&p.Name, &p.Description, &p.Category); err != nil {
			return err.Error()
		}
		vs, err := emb.Embed(ctx, []string{queries[0], p.EmbedText()})
		if err != nil {
			return err.Error()
		}
		if want := testkit.Cosine(vs[0], vs[1]); abs(want-res[0].Score) > 1e-3 {
			return fmt.Sprintf("top score %.4f, the 128-dimension cosine is %.4f: search does not use the new generation", res[0].Score, want)
		}
		return ""
	})

	// Drop: refused for the active generation; the old one's vectors go.
	if err := IndexDrop(ctx, cfg, created.Name); !errors.Is(err, generations.ErrActive) {
		t.Errorf("drop the active generation: %v, want ErrActive", err)
	}
	oldGen := generationNamed(t, pool, generations.Retired)
	if err := IndexDrop(ctx, cfg, old.Name); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM index_state WHERE model = $1`, old.Name).Scan(&left); err != nil || left != 0 {
		t.Errorf("index_state rows of the dropped generation: %d (%v)", left, err)
	}
	if n := storeCount(t, cfg, pool, oldGen); n != 0 {
		t.Errorf("vectors of the dropped generation: %d, want none", n)
	}
	if gens, _ := generations.List(ctx, pool); len(gens) != 1 || gens[0].Name != created.Name {
		t.Errorf("generations after the drop: %+v", gens)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// generationNamed returns the only generation in state.
func generationNamed(t *testing.T, pool *pgxpool.Pool, state string) generations.Generation {
	t.Helper()
	gens, err := generations.List(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gens {
		if g.State == state {
			return g
		}
	}
	t.Fatalf("no %s generation among %+v", state, gens)
	return generations.Generation{}
}

// waitComplete waits until the generation holds every row at its current
// version and nothing deleted.
func waitComplete(t *testing.T, pool *pgxpool.Pool, name string) {
	t.Helper()
	testkit.WaitFor(t, 3*time.Minute, func() string {
		rows, err := describeGenerations(context.Background(), pool)
		if err != nil {
			return err.Error()
		}
		for _, r := range rows {
			if r.Name == name && (r.Indexed != r.Total || r.Total == 0) {
				return fmt.Sprintf("generation %s: %d of %d indexed", name, r.Indexed, r.Total)
			}
		}
		// The counts say nothing of deletes still in flight.
		var gone int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM index_state s WHERE s.model = $1 AND NOT s.deleted
			AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = s.product_id)`, name).Scan(&gone); err != nil || gone > 0 {
			return fmt.Sprintf("generation %s: %d deleted products still indexed (%v)", name, gone, err)
		}
		return ""
	})
}

// checkGenerationEqualsTable compares the generation's index_state and the
// vectors in its store with the table: same ids, versions and content
// hashes, nothing deleted left behind.
func checkGenerationEqualsTable(t *testing.T, cfg Config, pool *pgxpool.Pool, name string) {
	t.Helper()
	ctx := context.Background()
	want := map[int64]product.Product{}
	rows, err := pool.Query(ctx, `SELECT id, version, name, description, category FROM products`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p product.Product
		if err := rows.Scan(&p.ID, &p.Version, &p.Name, &p.Description, &p.Category); err != nil {
			t.Fatal(err)
		}
		want[p.ID] = p
	}
	var bad []string
	st, err := pool.Query(ctx, `SELECT product_id, version, content_hash FROM index_state WHERE model = $1 AND NOT deleted AND version > 0`, name)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for st.Next() {
		var id, v int64
		var h string
		if err := st.Scan(&id, &v, &h); err != nil {
			t.Fatal(err)
		}
		seen++
		p, ok := want[id]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("product %d deleted but indexed", id))
		case p.Version != v || product.ContentHash(p.EmbedText()) != h:
			bad = append(bad, fmt.Sprintf("product %d: indexed version %d hash %s, table version %d", id, v, h, p.Version))
		}
	}
	if seen != len(want) {
		bad = append(bad, fmt.Sprintf("%d products indexed, %d in the table", seen, len(want)))
	}
	g, err := generations.Get(ctx, pool, name)
	if err != nil {
		t.Fatal(err)
	}
	store, err := openGenerationStore(ctx, cfg, pool, g, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, vectormeta.VectorID(id))
	}
	for start := 0; start < len(ids); start += 500 {
		got, err := store.Fetch(ctx, ids[start:min(len(ids), start+500)])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[start:min(len(ids), start+500)] {
			v, ok := got[id]
			pid, _ := vectormeta.ParseVectorID(id)
			p := want[pid]
			switch {
			case !ok:
				bad = append(bad, "vector "+id+" missing from the store")
			case v.Meta.Version != p.Version || v.Meta.ContentHash != product.ContentHash(p.EmbedText()) || len(v.Values) != g.Dims:
				bad = append(bad, fmt.Sprintf("vector %s: version %d, %d values; table version %d", id, v.Meta.Version, len(v.Values), p.Version))
			}
		}
	}
	if n := storeCount(t, cfg, pool, g); n != len(want) {
		bad = append(bad, fmt.Sprintf("store holds %d vectors, table %d rows", n, len(want)))
	}
	if len(bad) > 0 {
		t.Errorf("generation %s differs from the table (%d problems): %v", name, len(bad), bad[:min(len(bad), 10)])
	}
}

func storeCount(t *testing.T, cfg Config, pool *pgxpool.Pool, g generations.Generation) int {
	t.Helper()
	ctx := context.Background()
	if g.Store == generations.StorePgvector {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, g.Target).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if !exists {
			return 0
		}
	}
	store, err := openGenerationStore(ctx, cfg, pool, g, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var n int
	testkit.WaitFor(t, 30*time.Second, func() string { // Pinecone's count lags
		n, err = store.Count(ctx)
		if err != nil {
			return err.Error()
		}
		return ""
	})
	return n
}

// randomWrites edits, inserts and deletes products until ctx ends: text
// edits, price-only edits, inserts and deletes.
func randomWrites(ctx context.Context, t *testing.T, pool *pgxpool.Pool, every time.Duration) {
	cat := catalog.NewStore(pool)
	r := rand.New(rand.NewPCG(13, 13))
	for i := 0; ctx.Err() == nil; i++ {
		var id int64
		if err := pool.QueryRow(ctx, `SELECT id FROM products ORDER BY random() LIMIT 1`).Scan(&id); err != nil {
			continue
		}
		var err error
		switch r.IntN(10) {
		case 0, 1:
			_, err = cat.Create(ctx, product.Product{SKU: fmt.Sprintf("GEN-%d-%d", time.Now().UnixNano(), i), Name: fmt.Sprintf("Switch gadget %d", i),
				Description: "A gadget written during a model switch", Price: product.Price(100 + i), Category: "gadgets"})
		case 2:
			err = cat.Delete(ctx, id)
		case 3, 4, 5:
			_, err = pool.Exec(ctx, `UPDATE products SET price = price + 1 WHERE id = $1`, id)
		default:
			_, err = pool.Exec(ctx, `UPDATE products SET description = description || ' Edited ' || $2 WHERE id = $1`, id, strconv.Itoa(i))
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, catalog.ErrNotFound) {
			t.Logf("write %d: %v", i, err)
		}
		time.Sleep(every)
	}
}

type searchHit struct {
	ID    int64   `json:"id"`
	Score float64 `json:"score"`
}

func searchResults(addr, q string) ([]searchHit, error) {
	resp, err := http.Get("http://" + addr + "/api/search?k=5&min_score=0&q=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%d: %s", resp.StatusCode, b)
	}
	var out struct {
		Results []searchHit `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

func searchCount(addr, q string) (int, error) {
	res, err := searchResults(addr, q)
	return len(res), err
}

// `refarch index create --if-missing`, as a deploy runs it every time: on
// an empty database the configuration becomes the first, active generation;
// a new embedder gets one building generation, however often it runs.
func TestIndexCreateIfMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.HashDim = 256
	first, created, err := IndexCreate(ctx, cfg, CreateOptions{IfMissing: true})
	if err != nil || created || first.State != generations.Active || first.Dims != 256 {
		t.Fatalf("on an empty database: %+v created %v, %v; want the configured generation, active", first, created, err)
	}
	next := cfg
	next.HashDim = 64
	for i := range 3 {
		g, created, err := IndexCreate(ctx, next, CreateOptions{IfMissing: true, AutoPromote: true})
		if err != nil || created != (i == 0) || g.Dims != 64 || g.State != generations.Building || !g.AutoPromote {
			t.Fatalf("run %d for a new embedder: %+v created %v, %v; want one building generation, created on the first run", i+1, g, created, err)
		}
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if gens, _ := generations.List(ctx, pool); len(gens) != 2 {
		t.Fatalf("generations: %+v, want the first and one more", gens)
	}
}
