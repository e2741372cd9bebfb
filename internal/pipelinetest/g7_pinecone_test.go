package pipelinetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/refarch/refarch/vectorstore/pineconestore"
	"github.com/refarch/refarch/vectorstore/pineconestore/pineconetest"
)

// G7 with the real Pinecone client against the local stand-in: the index
// answers 429 (ResourceExhausted) for a while; the client's own retries give
// up, emu backs off holding its messages, and everything is indexed once the
// rate limit lifts, with nothing dead-lettered and no restart.
func TestG7PineconeRateLimitHeals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	srv := pineconetest.New(t)
	store, err := pineconestore.New(ctx, pineconestore.Options{
		APIKey: pineconetest.APIKey, ControlHost: srv.ControlURL(), IndexName: "refarch-g7",
		Model: e.model, Dimension: e.emb.Dimension(),
		Retry:        pineconestore.Retry{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		PollInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store // converged() checks this store

	srv.FailUntil("Upsert", time.Now().Add(time.Hour), codes.ResourceExhausted)
	e.startEmu(e.emuConfig(), nil, nil, store)
	e.startPelican(e.pelicanConfig(), nil)
	e.insert(ctx, 80, "garden")
	waitFor(t, 30*time.Second, func() string {
		if n := srv.Calls("Upsert"); n < 4*maxReceives {
			return fmt.Sprintf("%d upsert calls so far", n)
		}
		return ""
	})
	if s := e.status(ctx); s.Indexed != 0 || s.Queue.Dead != 0 {
		t.Fatalf("while rate limited: %+v, want nothing indexed and nothing dead", s)
	}
	srv.Heal()
	e.converged(ctx, 60*time.Second)
	if s := e.status(ctx); s.Queue.Dead != 0 {
		t.Fatalf("rate limits dead-lettered messages: %+v", s)
	}
}

// Issue 11 (1) with the real Pinecone client: the API key is revoked
// (every call answers Unauthenticated, which no retry fixes) while products
// change. That is an outage of the whole store, not poison: nothing is
// dead-lettered, status names it, and everything is indexed once the key
// works again, with no restart and no redrive.
func TestPineconeRevokedKeyIsAnOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	srv := pineconetest.New(t)
	store, err := pineconestore.New(ctx, pineconestore.Options{
		APIKey: pineconetest.APIKey, ControlHost: srv.ControlURL(), IndexName: "refarch-revoked",
		Model: e.model, Dimension: e.emb.Dimension(),
		Retry:        pineconestore.Retry{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		PollInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store

	srv.FailUntil("", time.Now().Add(time.Hour), codes.Unauthenticated)
	e.startEmu(e.emuConfig(), nil, nil, store)
	e.startPelican(e.pelicanConfig(), nil)
	e.insert(ctx, 40, "garden")
	e.holdOutage(ctx, func() int64 { return int64(srv.Calls("Upsert")) })
	if s := e.status(ctx); s.Outage == nil || s.Outage.Component != "vector_store" {
		t.Fatalf("while the key is revoked: %+v, outage %+v", s, s.Outage)
	}
	srv.Heal()
	e.converged(ctx, 60*time.Second)
	if s := e.status(ctx); s.Queue.Dead != 0 || s.Failed != 0 || s.Outage != nil {
		t.Fatalf("after the key works again: %+v, outage %+v", s, s.Outage)
	}
}
