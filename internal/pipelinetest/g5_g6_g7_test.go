package pipelinetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/status"
)

// G5: a price-only edit updates the vector's metadata without an embedding
// call; a description edit embeds exactly that one product again.
func TestG5PriceEditMakesNoEmbeddingCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	emb := &countingEmbedder{Embedder: e.emb}
	e.startEmu(e.emuConfig(), nil, emb, nil)
	e.startPelican(e.pelicanConfig(), nil)
	ids := e.insert(ctx, 40, "kitchen")
	e.converged(ctx, 30*time.Second)
	before := emb.texts.Load()
	if before < 40 {
		t.Fatalf("embedded %d texts for 40 new products", before)
	}

	e.exec(ctx, `UPDATE products SET price = price + 10, category = 'sale' WHERE id = ANY($1)`, ids[:10])
	e.converged(ctx, 30*time.Second) // diff checks the metadata price and category
	if got := emb.texts.Load(); got != before {
		t.Fatalf("price and category edits embedded %d texts, want none", got-before)
	}

	e.exec(ctx, `UPDATE products SET description = 'A completely new description' WHERE id = $1`, ids[20])
	e.converged(ctx, 30*time.Second)
	if got := emb.texts.Load(); got != before+1 {
		t.Fatalf("one description edit embedded %d texts, want 1", got-before)
	}
}

// G6: a product the embedder always fails on is dead-lettered after the
// queue's receive limit, shows up in status as failed, does not hold back
// other products, and is indexed after a fix and a redrive.
func TestG6PoisonIsIsolatedAndRedriven(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	emb := &faultyEmbedder{Embedder: e.emb, poison: "POISON"}
	e.startEmu(e.emuConfig(), nil, emb, nil)
	e.startPelican(e.pelicanConfig(), nil)
	// Changed only after the start-up catch-up: a product changed while it
	// runs may also travel in its range (the live lane's message may be
	// sent and not yet indexed when the range is read), and a poison one
	// would then be dead-lettered once per lane.
	waitFor(t, 30*time.Second, e.startupPassDone(ctx))

	ids := e.insert(ctx, 15, "toys")
	poison := e.insertPoison(ctx, "POISON-1", "toys")
	ids = append(ids, e.insert(ctx, 15, "toys")...)

	waitFor(t, 60*time.Second, func() string {
		s := e.status(ctx)
		if s.Queue.Dead == 1 && s.Failed == 1 && s.Indexed == s.Products-1 && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	states, err := status.ProductStates(ctx, e.pool, e.model, []int64{poison, ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	if states[poison] != status.StateFailed || states[ids[0]] != status.StateIndexed {
		t.Fatalf("states %v, want %d failed and %d indexed", states, poison, ids[0])
	}

	// Other products keep flowing while the poison sits in the DLQ.
	e.exec(ctx, `UPDATE products SET name = name || ' v2' WHERE id = ANY($1)`, ids[10:20])
	more := e.insert(ctx, 10, "toys")
	waitFor(t, 30*time.Second, func() string {
		s := e.status(ctx)
		if s.Indexed == s.Products-1 && s.Outbox == 0 && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	if st, _ := status.ProductStates(ctx, e.pool, e.model, more[:1]); st[more[0]] != status.StateIndexed {
		t.Fatalf("a product inserted after the poison is %q", st[more[0]])
	}

	// Fix the embedder, redrive: the product is indexed and nothing is dead.
	emb.setPoison("")
	n, err := e.q.Redrive(ctx)
	if err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v; want 1 message", n, err)
	}
	e.converged(ctx, 30*time.Second)
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 {
		t.Fatalf("after redrive: %+v", s)
	}
}

// G6 for a bootstrap: the catch-up sends ranges of products, not a message
// per product. A poison product in a range does not hold back the range's
// others, which are indexed; the range comes back standing for the poison
// product alone, which is shown as failed and dead-lettered at its last
// receive; a fix and a redrive index it.
func TestG6PoisonInABackfillRangeIsIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	ids := e.insert(ctx, 40, "garden")
	poison := e.insertPoison(ctx, "POISON-2", "garden")
	ids = append(ids, e.insert(ctx, 40, "garden")...)
	e.exec(ctx, `DELETE FROM sync_outbox`) // only the catch-up sends them
	emb := &faultyEmbedder{Embedder: e.emb, poison: "POISON"}
	e.startEmu(e.emuConfig(), nil, emb, nil)
	e.startPelican(e.pelicanConfig(), nil)

	waitFor(t, 60*time.Second, func() string {
		s := e.status(ctx)
		if s.Queue.Dead == 1 && s.Failed == 1 && s.Indexed == s.Products-1 && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	var ranges int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM catchup_chunks WHERE sent > 0`).Scan(&ranges); err != nil || ranges == 0 {
		t.Fatalf("%d chunks sent (%v): the products did not travel as ranges", ranges, err)
	}
	states, err := status.ProductStates(ctx, e.pool, e.model, []int64{poison, ids[0], ids[len(ids)-1]})
	if err != nil {
		t.Fatal(err)
	}
	if states[poison] != status.StateFailed || states[ids[0]] != status.StateIndexed || states[ids[len(ids)-1]] != status.StateIndexed {
		t.Fatalf("states %v, want %d failed and the range's others indexed", states, poison)
	}

	emb.setPoison("")
	if n, err := e.q.Redrive(ctx); err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v; want 1 message", n, err)
	}
	e.converged(ctx, 30*time.Second)
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 {
		t.Fatalf("after redrive: %+v", s)
	}
}

// insertPoison inserts a product whose text faultyEmbedder fails on.
func (e *env) insertPoison(ctx context.Context, sku, category string) int64 {
	e.t.Helper()
	var id int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price, category)
		VALUES ($1, 'Trouble', 'this one is POISON to the embedder', 1, $2) RETURNING id`, sku, category).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// G7: an embedder outage and a rate-limiting vector store both heal without
// a restart, nothing is lost and nothing is dead-lettered: messages are held
// and retried with backoff, not bounced towards the DLQ.
func TestG7OutagesHeal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	emb := &faultyEmbedder{Embedder: e.emb}
	emb.down.Store(true)
	store := &flakyStore{Store: e.store}
	e.startEmu(e.emuConfig(), nil, emb, store)
	e.startPelican(e.pelicanConfig(), nil)

	e.insert(ctx, 120, "tools")
	// Long enough for many more failed attempts than the receive limit.
	waitFor(t, 30*time.Second, func() string {
		if n := emb.failures.Load(); n < 3*maxReceives {
			return fmt.Sprintf("%d embedder failures so far", n)
		}
		return ""
	})
	if s := e.status(ctx); s.Indexed != 0 || s.Queue.Dead != 0 {
		t.Fatalf("during the outage: %+v, want nothing indexed and nothing dead", s)
	}
	emb.down.Store(false)
	e.converged(ctx, 60*time.Second)

	store.limited.Store(6 * maxReceives)
	ids := e.insert(ctx, 50, "tools")
	e.exec(ctx, `UPDATE products SET description = description || ' again' WHERE id = ANY($1)`, ids[:25])
	e.converged(ctx, 60*time.Second)
	if store.refused.Load() < 6*maxReceives {
		t.Fatalf("the store refused only %d writes", store.refused.Load())
	}
	if s := e.status(ctx); s.Queue.Dead != 0 {
		t.Fatalf("rate limits dead-lettered messages: %+v", s)
	}
}

// G6 for messages emu cannot even read: an undecodable message is
// dead-lettered after the receive limit and products keep syncing.
func TestG6UndecodableMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.startEmu(e.emuConfig(), nil, nil, nil)
	e.startPelican(e.pelicanConfig(), nil)
	if err := e.q.Send(ctx, []queue.Outgoing{{Group: "424242", DedupID: "garbage", Body: []byte(`{"v":2,"op":"explode"}`)}}); err != nil {
		t.Fatal(err)
	}
	e.insert(ctx, 20, "misc")
	waitFor(t, 60*time.Second, func() string {
		s := e.status(ctx)
		if s.Queue.Dead == 1 && s.InSync() && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	e.converged(ctx, 10*time.Second)
}
