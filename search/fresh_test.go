package search_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pineconestore"
	"github.com/refarch/refarch/vectorstore/pineconestore/pineconetest"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// runPipeline runs pelican and emu on pool until the test ends, so that
// products reach store the way they do in production.
func runPipeline(t *testing.T, pool *pgxpool.Pool, emb embedding.Embedder, store vectorstore.Store) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	q := pgqueue.New(pool, pgqueue.Options{MaxReceives: 4, PollInterval: 100 * time.Millisecond})
	p := pelican.New(pool, q, pelican.Config{Model: emb.Model(), BatchSize: 100, PollInterval: 100 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, log, nil)
	e := emu.New(pool, q, emb, store, emu.Config{Concurrency: 2, BatchSize: 32, Visibility: 5 * time.Second,
		Wait: 200 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		MaxReceives: 4, DepthInterval: -1}, log, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, run := range []func(context.Context) error{p.Run, e.Run} {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("pipeline role: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		q.Close()
	})
}

// waitIndexed waits until status says every product in ids is indexed at
// its current version, as a user would before searching.
func waitIndexed(t *testing.T, pool *pgxpool.Pool, model string, ids ...int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := status.ProductStates(context.Background(), pool, model, ids)
		if err != nil {
			t.Fatal(err)
		}
		waiting := 0
		for _, id := range ids {
			if st[id] != "indexed" {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d products not indexed after 60s", waiting, len(ids))
		}
		time.Sleep(20 * time.Millisecond) // polling status, as the UI does
	}
}

// Pinecone serverless answers queries from a state that lags its writes.
// Against the stand-in with a lag longer than the test, a product status
// calls indexed is still found first by its own text: search scores the
// recent writes emu recorded in Postgres exactly. Plain approximate search
// (what search did before) finds nothing new at all.
func TestSearchFindsFreshWritesDespitePineconeLag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	emb := embedding.NewHash(64)
	srv := pineconetest.New(t)
	store, err := pineconestore.New(ctx, pineconestore.Options{
		APIKey: pineconetest.APIKey, ControlHost: srv.ControlURL(), IndexName: "refarch-fresh",
		Model: emb.Model(), Dimension: emb.Dimension(), PollInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cat := catalog.NewStore(pool)
	var ids []int64
	for i := range 40 {
		p, err := cat.Create(ctx, product.Product{SKU: fmt.Sprintf("OLD-%d", i), Name: fmt.Sprintf("Gadget %d", i),
			Description: fmt.Sprintf("A plain gadget, model %d, in grey", i), Price: 1000, Category: "gadgets"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	runPipeline(t, pool, emb, store)
	waitIndexed(t, pool, emb.Model(), ids...)

	srv.QueryLag(time.Hour)
	plain := search.New(emb, store, cat, nil)
	fresh := search.New(emb, store, cat, nil).WithRecent(recentvectors.NewScanner(pool, emb.Model(), recentvectors.Options{}))

	// A new product, and an edit of an old one whose previous vector is
	// all the lagging index knows.
	added, err := cat.Create(ctx, product.Product{SKU: "NEW-1", Name: "Zebra teapot",
		Description: "A zebra-striped porcelain teapot that whistles a tune", Price: 2500, Category: "kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	edited, err := cat.Get(ctx, ids[7])
	if err != nil {
		t.Fatal(err)
	}
	edited.Description = "A brass pocket compass whose needle always points north"
	if edited, err = cat.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, pool, emb.Model(), added.ID, edited.ID)

	for _, p := range []product.Product{added, edited} {
		q := search.Query{Text: p.Description, K: 5, Mode: search.ModeVector}
		before, err := plain.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(before.Results) > 0 && before.Results[0].Product.ID == p.ID && before.Results[0].Score > 0.99 {
			t.Fatalf("%s: the stand-in showed the fresh vector at once; the lag is not simulated", p.SKU)
		}
		resp, err := fresh.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) == 0 || resp.Results[0].Product.ID != p.ID {
			t.Fatalf("%s: search by its own text returned %v, want it first", p.SKU, resp.IDs())
		}
		want, _ := emb.Embed(ctx, []string{p.EmbedText()})
		got, _ := emb.Embed(ctx, []string{p.Description})
		if s := testkit.Cosine(want[0], got[0]); math.Abs(resp.Results[0].Score-s) > 1e-5 {
			t.Errorf("%s: score %v, want the exact cosine %v", p.SKU, resp.Results[0].Score, s)
		}
	}

	// A deleted product is forgotten, not served from the recent writes.
	if err := cat.Delete(ctx, added.ID); err != nil {
		t.Fatal(err)
	}
	waitForNoRecent(t, pool, added.ID)
}

func waitForNoRecent(t *testing.T, pool *pgxpool.Pool, id int64) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, func() string {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM recent_vectors WHERE product_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			return fmt.Sprintf("product %d still among recent vectors", id)
		}
		return ""
	})
}
