package pgvectorstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

func TestPlanBuild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		n          int64
		dim        int
		capKB      int64
		workers    int
		wantMemKB  int64 // 0: the graph's need
		wantInMem  bool
		wantNeedMB int64
	}{
		{"small table gets the floor", 1000, 512, 4 << 20, 2, minBuildKB, true, 2},
		{"1M x 512 fits a 4 GB cap", 1_000_000, 512, 4 << 20, 2, 0, true, 2962},
		{"1M x 512 is short of 64 MB", 1_000_000, 512, 64 << 10, 2, 64 << 10, false, 2962},
		{"a tiny cap is honoured down to pgvector's 1 MB", 100_000, 64, 512, 0, 1024, false, 108},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanBuild(tc.n, tc.dim, tc.capKB, tc.workers)
			want := tc.wantMemKB
			if want == 0 {
				want = p.NeedKB
			}
			if p.MemoryKB != want || p.InMemory != tc.wantInMem || p.NeedKB/1024 != tc.wantNeedMB || p.Workers != tc.workers {
				t.Errorf("PlanBuild = %+v; want memory %d kB, in memory %v, need %d MB, %d workers", p, want, tc.wantInMem, tc.wantNeedMB, tc.workers)
			}
			if tc.n > 0 && p.Expected <= 0 {
				t.Errorf("no expected duration: %+v", p)
			}
		})
	}
	// Short of memory, a build is expected to take longer.
	if in, out := PlanBuild(1_000_000, 512, 4<<20, 2), PlanBuild(1_000_000, 512, 64<<10, 2); out.Expected <= 2*in.Expected {
		t.Errorf("expected %s on disk against %s in memory; want much slower", out.Expected, in.Expected)
	}
}

// loadVectors writes n random vectors of dim dimensions into a store whose
// HNSW index has been dropped, as a bootstrap does.
func loadVectors(t *testing.T, s *Store, n, dim int) []vectorstore.Vector {
	t.Helper()
	if err := s.DropIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	vs := randomVectors(42, n, dim, []string{"a", "b"})
	for i := 0; i < n; i += 5000 {
		if err := s.Upsert(t.Context(), vs[i:min(n, i+5000)]); err != nil {
			t.Fatal(err)
		}
	}
	return vs
}

// A build that takes many times its stall timeout is not abandoned while
// it progresses; meanwhile writes go on, searches answer within their
// bounds and say the index is not ready, and the progress is visible.
func TestSlowBuildFinishes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	const dim = 64
	s, err := New(ctx, pool, "slow-build", dim)
	if err != nil {
		t.Fatal(err)
	}
	vs := loadVectors(t, s, 6000, dim)
	// 1 MB of build memory holds about a thousand of these vectors: the
	// rest of the graph is built on disk, which is slow.
	// A second: a loaded machine can go that long between two progress
	// reports of this build, which still takes several seconds.
	const stall = time.Second
	s.SetBuildOptions(BuildOptions{StallTimeout: stall, PollInterval: 50 * time.Millisecond, MaxMemoryKB: 1024})
	s.SetSearchOptions(SearchOptions{ExactScanCap: 500})

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.CreateIndex(context.WithoutCancel(ctx)) }()

	var seen vectorstore.IndexProgress
	deadline := time.Now().Add(time.Minute)
	for seen.State != vectorstore.IndexBuilding || seen.Done == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no build progress seen within a minute; last %+v", seen)
		}
		select {
		case err := <-done:
			t.Fatalf("build ended (%v) before any progress was seen; make it slower", err)
		case <-time.After(20 * time.Millisecond):
		}
		if seen, err = s.IndexProgress(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Total is extrapolated from the table scan's blocks until ANALYZE has
	// counted the table, so early in a build it is only roughly 6,000.
	if seen.Total < 3000 || seen.Total > 12000 || seen.Done > seen.Total {
		t.Errorf("progress %+v; want done of a total of about 6,000", seen)
	}

	// Writes go on during the build.
	fresh := randomVectors(7, 1, dim, []string{"a"})[0]
	fresh.ID, fresh.Meta.ProductID = "p-999999", 999999
	if err := s.Upsert(ctx, []vectorstore.Vector{fresh}); err != nil {
		t.Fatalf("upsert during the build: %v", err)
	}
	// Searches answer from a bounded part of the table and say so.
	if s.IndexReady(ctx) {
		t.Fatal("IndexReady during the build")
	}
	got, err := s.Query(ctx, vs[0].Values, 5, vectormeta.Filter{})
	if err != nil || len(got) != 5 {
		t.Fatalf("query during the build = %d matches, %v; want 5", len(got), err)
	}
	select {
	case err := <-done:
		t.Fatalf("build ended (%v) before the writes and searches were checked; make it slower", err)
	default:
	}

	if err := <-done; err != nil {
		t.Fatalf("slow build: %v", err)
	}
	if took := time.Since(start); took < 3*stall {
		t.Fatalf("build took %s, not several stall timeouts (%s): the test proves nothing; make it slower", took, stall)
	}
	if !s.IndexReady(ctx) {
		t.Error("index not ready after the build")
	}
	p, err := s.IndexProgress(ctx)
	if err != nil || p.State != vectorstore.IndexReady {
		t.Errorf("progress after the build = %+v, %v; want ready", p, err)
	}
	got, err = s.Query(ctx, fresh.Values, 1, vectormeta.Filter{})
	if err != nil || len(got) != 1 || got[0].ID != fresh.ID {
		t.Errorf("query for the vector written during the build = %+v, %v; want %s", got, err, fresh.ID)
	}
}

// A stall timeout shorter than the default poll interval (an operator's
// --index-build-stall-timeout 1s) is judged on several readings: with one
// reading per stall timeout, a single unchanged sample cancelled a build
// that was progressing.
func TestStallIsJudgedOnSeveralReadings(t *testing.T) {
	for _, stall := range []time.Duration{time.Second, time.Minute, 10 * time.Minute} {
		o := BuildOptions{StallTimeout: stall}.withDefaults()
		if o.PollInterval > stall/5 || o.PollInterval > 2*time.Second {
			t.Errorf("stall timeout %s: progress read every %s; want at least five readings per timeout, at most 2 s apart", stall, o.PollInterval)
		}
	}
}

// A build that cannot start, because a session holds a lock on the table
// that conflicts with it (a DDL, a manual VACUUM), is cancelled after the
// stall timeout too, and the error names that session: Postgres shows the
// build in pg_stat_progress_create_index only once it holds the lock.
func TestBuildWaitingForTheTableLockNamesTheHolder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "locked-build", 8)
	if err != nil {
		t.Fatal(err)
	}
	loadVectors(t, s, 100, 8)
	// Without workers the build goes straight to CREATE INDEX; with them,
	// the session first sets the table's parallel_workers, which needs
	// the same lock. Either way it waits, and gives up saying so.
	stores := map[int]*Store{}
	for _, workers := range []int{0, 2} {
		cfg := pool.Config().Copy()
		cfg.ConnConfig.RuntimeParams["max_parallel_maintenance_workers"] = fmt.Sprint(workers)
		wpool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer wpool.Close()
		if stores[workers], err = New(ctx, wpool, "locked-build", 8); err != nil {
			t.Fatal(err)
		}
		stores[workers].SetBuildOptions(BuildOptions{StallTimeout: time.Second, PollInterval: 50 * time.Millisecond})
	}
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.WithoutCancel(ctx))
	var pid int32
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `LOCK TABLE `+s.qtable+` IN SHARE UPDATE EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{0, 2} {
		err := stores[workers].CreateIndex(ctx)
		if err == nil || !strings.Contains(err.Error(), "stalled") || !strings.Contains(err.Error(), "waiting for a lock") {
			t.Fatalf("build with %d workers behind a lock = %v; want a stall error naming the lock", workers, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(pid)) {
			t.Fatalf("build with %d workers behind a lock = %v; want the error to name session %d", workers, err, pid)
		}
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIndex(ctx); err != nil {
		t.Fatalf("build after the lock was released: %v", err)
	}
}

// A build that makes no progress (here: blocked by an open transaction) is
// cancelled after the stall timeout with an error that says why, and the
// next build drops the invalid index it left and finishes.
func TestStalledBuildIsCancelledAndRestartsOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "stalled-build", 8)
	if err != nil {
		t.Fatal(err)
	}
	loadVectors(t, s, 100, 8)
	// A second: long enough that a loaded machine does not look stalled.
	s.SetBuildOptions(BuildOptions{StallTimeout: time.Second, PollInterval: 50 * time.Millisecond})

	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(context.WithoutCancel(ctx))
	v := randomVectors(3, 1, 8, []string{"a"})[0]
	if _, err := blocker.Exec(ctx, `INSERT INTO `+s.qtable+` (id, embedding, product_id, version, content_hash, model, category, price)
		VALUES ('p-blocker', $1::float4[]::vector, 1, 1, '', '', 'a', 1)`, v.Values); err != nil {
		t.Fatal(err)
	}
	err = s.CreateIndex(ctx)
	if err == nil || !strings.Contains(err.Error(), "stalled") || !strings.Contains(err.Error(), "waiting for writers") {
		t.Fatalf("blocked build = %v; want a stall error naming the phase", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stall reported as a deadline: %v", err)
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIndex(ctx); err != nil {
		t.Fatalf("build after the blocker ended: %v", err)
	}
	exists, valid, err := s.indexValid(ctx, pool)
	if err != nil || !exists || !valid {
		t.Errorf("index after the second build: exists %v, valid %v, %v", exists, valid, err)
	}
}

// A search that outlasts its statement timeout fails as a timeout, never
// running on unbounded.
func TestSearchTimeout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "search-timeout", 64)
	if err != nil {
		t.Fatal(err)
	}
	vs := loadVectors(t, s, 5000, 64)
	s.SetSearchOptions(SearchOptions{Timeout: time.Millisecond, ExactScanCap: 1_000_000})
	_, err = s.Query(ctx, vs[0].Values, 10, vectormeta.Filter{})
	if !errors.Is(err, vectorstore.ErrSearchTimeout) {
		t.Fatalf("query over 5,000 vectors with a 1 ms budget = %v; want ErrSearchTimeout", err)
	}
}

// TestHelperBuild is not a test: TestKilledBuildRestartsOnce runs it in a
// child process to build an index and be killed while it does.
func TestHelperBuild(t *testing.T) {
	url := os.Getenv("REFARCH_TEST_BUILD_URL")
	if url == "" {
		t.Skip("helper process of TestKilledBuildRestartsOnce")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, pool, "killed-build", 64)
	if err != nil {
		t.Fatal(err)
	}
	// The server notices the killed process within 100 ms, long before a
	// build of 12,000 vectors on disk pages ends, even on a quiet machine.
	s.SetBuildOptions(BuildOptions{MaxMemoryKB: 1024, ConnCheckInterval: 100 * time.Millisecond})
	t.Fatal(s.CreateIndex(ctx)) // killed long before it returns
}

// A process killed (SIGKILL) in the middle of a build leaves no build
// running on in the database: within seconds the build is gone, and the
// next build drops the INVALID index it left and finishes.
func TestKilledBuildRestartsOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.NewURL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := New(ctx, pool, "killed-build", 64)
	if err != nil {
		t.Fatal(err)
	}
	loadVectors(t, s, 12000, 64)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBuild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REFARCH_TEST_BUILD_URL="+url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitProgress := func(what string, ok func(vectorstore.IndexProgress) bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			p, err := s.IndexProgress(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok(p) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %s; progress %+v", what, p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitProgress("the child's build to progress", func(p vectorstore.IndexProgress) bool {
		return p.State == vectorstore.IndexBuilding && p.Done > 0
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed := time.Now()
	waitProgress("the orphaned build to stop", func(p vectorstore.IndexProgress) bool {
		return p.State != vectorstore.IndexBuilding
	})
	if d := time.Since(killed); d > 8*time.Second {
		t.Errorf("the orphaned build ran on for %s after its process died", d)
	}
	exists, valid, err := s.indexValid(ctx, pool)
	if err != nil || !exists || valid {
		t.Fatalf("after the kill: index exists %v, valid %v, %v; want an INVALID leftover", exists, valid, err)
	}
	if err := s.CreateIndex(ctx); err != nil {
		t.Fatalf("build after the kill: %v", err)
	}
	if exists, valid, err := s.indexValid(ctx, pool); err != nil || !exists || !valid {
		t.Errorf("after the second build: index exists %v, valid %v, %v", exists, valid, err)
	}
}

// TestCategoryIndexes checks that a build gives each category with at least
// categoryMin vectors its own partial HNSW index, which filtered searches on
// that category use, that a later call builds the index of a category that
// grew, that DropIndex removes them all, and that every graph is built with
// efConstruction (the bulk build once used pgvector's default of 64).
func TestCategoryIndexes(t *testing.T) {
	t.Parallel()
	const dim = 16
	ctx := t.Context()
	pool := pgtest.New(t)
	s, err := New(ctx, pool, "category-model", dim)
	if err != nil {
		t.Fatal(err)
	}
	s.categoryMin = 300
	// About 450 vectors in each of "big" and "large", 100 in "small".
	vs := randomVectors(3, 1000, dim, []string{"big", "large", "big", "large", "small", "big", "large", "big", "large"})
	for i := range vs {
		if i%10 == 0 {
			vs[i].Meta.Category = "small"
		} else if vs[i].Meta.Category == "small" {
			vs[i].Meta.Category = "big"
		}
	}
	if err := s.DropIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIndex(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{s.categoryIndexName("big"): true, s.categoryIndexName("large"): true}
	got, err := s.categoryIndexes(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !got[s.categoryIndexName("big")] || !got[s.categoryIndexName("large")] {
		t.Fatalf("category indexes %v, want %v (none for small)", got, want)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.qtable); err != nil {
		t.Fatal(err)
	}
	lo := 10.0
	for cat, index := range map[string]string{"big": s.categoryIndexName("big"), "small": s.table + "_hnsw"} {
		sql, args := s.querySQL(vs[0].Values, 10, vectormeta.Filter{Category: cat, MinPrice: &lo}, 0)
		// The same statement runs more than five times, as a prepared one
		// would, so that a generic plan would show.
		var plan string
		for range 7 {
			plan = explain(t, s, sql, args)
		}
		if !strings.Contains(plan, index+" ") {
			t.Errorf("search filtered on %s does not use %s:\n%s", cat, index, plan)
		}
	}
	var opts []string
	if err := pool.QueryRow(ctx, `SELECT array_agg(DISTINCT array_to_string(c.reloptions, ',')) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'hnsw')`,
		s.qtable).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if len(opts) != 1 || opts[0] != "ef_construction=128" {
		t.Errorf("HNSW indexes built with %q, want ef_construction=128 for each", opts)
	}

	// "small" grows past the threshold: the next call builds its index.
	more := randomVectors(4, 300, dim, []string{"small"})
	for i := range more {
		more[i].ID = vectormeta.VectorID(int64(5000 + i))
		more[i].Meta.ProductID = int64(5000 + i)
	}
	if err := s.Upsert(ctx, more); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.categoryIndexes(ctx, pool); err != nil || len(got) != 3 || !got[s.categoryIndexName("small")] {
		t.Errorf("after small grew: category indexes %v (%v), want three", got, err)
	}
	if err := s.DropIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.categoryIndexes(ctx, pool); err != nil || len(got) != 0 {
		t.Errorf("after DropIndex: category indexes %v (%v), want none", got, err)
	}
}
