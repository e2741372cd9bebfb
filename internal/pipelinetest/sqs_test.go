package pipelinetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refarch/refarch/queue/sqsqueue/sqstest"
	"github.com/refarch/refarch/status"
)

// The pipeline over SQS FIFO (moto in development and CI): changes sync,
// deletes propagate, a poison product is dead-lettered after the redrive
// policy's receive count, shows as failed, and redrive heals it once fixed.
func TestSQSPipeline(t *testing.T) {
	endpoint := sqstest.Endpoint(t)
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	q := sqstest.New(t, endpoint, maxReceives)
	emb := &faultyEmbedder{Embedder: e.emb, poison: "POISON"}
	cfg := e.emuConfig()
	cfg.Wait = time.Second
	e.startEmu(cfg, q, emb, nil)
	e.startPelican(e.pelicanConfig(), q)
	// Changed only after the start-up catch-up, as in the G6 test: a
	// product changed while it runs may also travel in its range, and the
	// poison one would then be dead-lettered once per message (2 dead).
	waitFor(t, 30*time.Second, e.startupPassDone(ctx))

	ids := e.insert(ctx, 60, "sqs")
	e.insertPoison(ctx, "SQS-POISON", "sqs")
	e.exec(ctx, `UPDATE products SET price = 5 WHERE id = ANY($1)`, ids[:10])
	e.exec(ctx, `DELETE FROM products WHERE id = ANY($1)`, ids[10:20])
	get := func() (status.Status, error) { return status.Get(ctx, e.pool, q, e.model) }
	waitFor(t, 90*time.Second, func() string {
		s, err := get()
		if err != nil {
			return err.Error()
		}
		if s.Queue.Dead == 1 && s.Failed == 1 && s.Indexed == s.Products-1 && s.DeletePending == 0 && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	emb.setPoison("")
	if n, err := q.Redrive(ctx); err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v; want 1", n, err)
	}
	waitFor(t, 60*time.Second, func() string {
		s, err := get()
		if err != nil {
			return err.Error()
		}
		if s.InSync() && s.Queue.Dead == 0 && s.Queue.Visible == 0 && s.Queue.InFlight == 0 && s.Failed == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	waitFor(t, 30*time.Second, func() string { return e.diff(ctx) })
}

// Issue 11 (3): rows written by SQL with a 300 KiB description and a U+FFFF
// character (which SQS refuses in a body) neither block the outbox nor get
// lost: the message carries only what emu needs (it re-reads the row), so
// every change, these included, reaches the index over SQS.
func TestSQSUnusualRowsFlow(t *testing.T) {
	endpoint := sqstest.Endpoint(t)
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	q := sqstest.New(t, endpoint, maxReceives)
	cfg := e.emuConfig()
	cfg.Wait = time.Second
	e.startEmu(cfg, q, nil, nil)
	p := e.pelicanConfig()
	e.startPelican(p, q)

	e.insert(ctx, 10, "before")
	e.exec(ctx, `INSERT INTO products (sku, name, description, price, category)
		VALUES ('HUGE', 'Huge', repeat('long words ', 30000), 1, 'odd'), ('FFFF', 'Odd '||chr(65535), 'has a U+FFFF '||chr(65535), 1, 'odd')`)
	ids := e.insert(ctx, 10, "after")
	e.exec(ctx, `UPDATE products SET name = name || ' v2' WHERE id = ANY($1)`, ids[:5])
	waitFor(t, 90*time.Second, func() string {
		s, err := status.Get(ctx, e.pool, q, e.model)
		if err != nil {
			return err.Error()
		}
		if s.InSync() && s.Queue.Dead == 0 && s.Failed == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	})
	waitFor(t, 30*time.Second, func() string { return e.diff(ctx) })
}
