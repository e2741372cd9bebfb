package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// bulkSpy counts the search index being dropped and built, and the
// vectors the store held when the last build began.
type bulkSpy struct {
	*pgvectorstore.Store
	drops, creates atomic.Int64
	heldAtBuild    atomic.Int64
}

func (b *bulkSpy) DropIndex(ctx context.Context) error {
	b.drops.Add(1)
	return b.Store.DropIndex(ctx)
}

func (b *bulkSpy) CreateIndex(ctx context.Context) error {
	b.creates.Add(1)
	if n, err := b.Count(ctx); err == nil {
		b.heldAtBuild.Store(int64(n))
	}
	return b.Store.CreateIndex(ctx)
}

// newBulkEnv is an env holding n products (SKUs from name) that its index
// lacks, a spy on its store, and an emu configuration whose bulk threshold
// (1,000) they pass.
func newBulkEnv(t *testing.T, n int, name string) (*env, *bulkSpy, emu.Config) {
	e := newEnv(t)
	e.insert(context.Background(), n, name)
	cfg := e.emuConfig()
	cfg.BulkThreshold = 1000
	return e, &bulkSpy{Store: e.store.(*pgvectorstore.Store)}, cfg
}

// A large backlog against a nearly empty index is loaded with the HNSW
// index deferred, and the index is back once the backlog is drained: its
// build begins when at most a tenth of the threshold is left to write
// (the backlog is 6 range messages, so the messages alone say little).
func TestBulkLoadDefersSearchIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, spy, cfg := newBulkEnv(t, 3000, "bulk")
	e.startPelican(e.pelicanConfig(), nil)
	e.waitCatchupSent(ctx, e.model, 3000)
	// Some 5 s of embedding, so that the load passes the bulk watch's
	// readings (one a second) on its way down.
	e.startEmu(cfg, nil, steadyEmbedder{e.emb, 100 * time.Millisecond}, spy)
	e.converged(ctx, 60*time.Second)
	waitFor(t, 30*time.Second, func() string {
		if !e.searchIndexExists(ctx) {
			return "HNSW index not rebuilt"
		}
		return ""
	})
	if spy.drops.Load() != 1 || spy.creates.Load() < 2 {
		t.Fatalf("index dropped %d times, built %d times; want 1 drop, a build at start and after the load", spy.drops.Load(), spy.creates.Load())
	}
	if n := spy.heldAtBuild.Load(); n < int64(3000-cfg.BulkThreshold/10) {
		t.Fatalf("the search index build began with %d of 3000 vectors written; want it at most %d short", n, cfg.BulkThreshold/10)
	}
}

// A bulk load found before pelican sends its first range (emu reads the
// products it lacks, and the queue is still empty) is not over at the first
// empty reading of the queue: at a million products pelican's chunks took
// 4.6 s, and emu built the index with 2 vectors written, then dropped it
// again and paid for HNSW inserts meanwhile.
func TestBulkLoadWaitsForTheFirstRanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, spy, cfg := newBulkEnv(t, 3000, "bulk-early")
	e.startEmu(cfg, nil, steadyEmbedder{e.emb, 100 * time.Millisecond}, spy)
	waitFor(t, 30*time.Second, func() string {
		if spy.drops.Load() != 1 {
			return "search index not deferred"
		}
		return ""
	})
	time.Sleep(3 * time.Second) // three readings of the empty queue
	e.startPelican(e.pelicanConfig(), nil)
	e.converged(ctx, 60*time.Second)
	waitFor(t, 30*time.Second, func() string {
		if !e.searchIndexExists(ctx) {
			return "HNSW index not rebuilt"
		}
		return ""
	})
	if d, c := spy.drops.Load(), spy.creates.Load(); d != 1 || c != 2 {
		t.Fatalf("index dropped %d times, built %d times; want one drop, and a build at start and after the load", d, c)
	}
	if n := spy.heldAtBuild.Load(); n < int64(3000-cfg.BulkThreshold/10) {
		t.Fatalf("the search index build began with %d of 3000 vectors written; want it at most %d short", n, cfg.BulkThreshold/10)
	}
}

// Stopping emu during a bulk load returns without building the deferred
// index (ECS kills a task a minute after SIGTERM; a build can take far
// longer): the next emu builds it on start.
func TestBulkLoadShutdownLeavesIndexToNextStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, spy, cfg := newBulkEnv(t, 1500, "bulk-stop")
	e.startPelican(e.pelicanConfig(), nil)
	e.waitCatchupSent(ctx, e.model, 1500)
	stuck := e.startEmu(cfg, nil, hangingEmbedder{e.emb}, spy)
	waitFor(t, 30*time.Second, func() string {
		if spy.drops.Load() != 1 || e.searchIndexExists(ctx) {
			return "search index not deferred"
		}
		return ""
	})
	if err := stuck.stop(); err != nil {
		t.Fatalf("emu stopped with %v", err)
	}
	if n := spy.creates.Load(); n != 1 || e.searchIndexExists(ctx) {
		t.Fatalf("after shutdown: %d builds, index exists %v; want only the start-up build and no index", n, e.searchIndexExists(ctx))
	}
	e.startEmu(cfg, nil, nil, spy)
	e.converged(ctx, 60*time.Second)
	waitFor(t, 30*time.Second, func() string {
		if !e.searchIndexExists(ctx) {
			return "HNSW index not rebuilt"
		}
		return ""
	})
}

// failingBuild is a store whose search index build always fails.
type failingBuild struct {
	*pgvectorstore.Store
	creates atomic.Int64
}

func (f *failingBuild) CreateIndex(ctx context.Context) error {
	f.creates.Add(1)
	return errors.New("build failed on purpose")
}

// A failed build is tried once more, then emu gives up instead of
// restarting it in a loop (the search index at 1M rows was rebuilt from
// zero after every timeout).
func TestFailedIndexBuildRestartsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	store := e.store.(*pgvectorstore.Store)
	if err := store.DropIndex(ctx); err != nil {
		t.Fatal(err)
	}
	spy := &failingBuild{Store: store}
	cfg := e.emuConfig()
	cfg.BulkThreshold = 1000
	cfg.IndexBuildRetry = 50 * time.Millisecond
	e.startEmu(cfg, nil, nil, spy)
	waitFor(t, 10*time.Second, func() string {
		if n := spy.creates.Load(); n < 2 {
			return fmt.Sprintf("%d builds tried, want 2", n)
		}
		return ""
	})
	// Many retry delays later there is still no third attempt.
	time.Sleep(20 * cfg.IndexBuildRetry)
	if n := spy.creates.Load(); n != 2 {
		t.Fatalf("%d builds tried; want the first and one retry", n)
	}
}
