package pipelinetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// env is one isolated database with a queue, a vector store and an embedder.
type env struct {
	t     testing.TB
	url   string // the database, for refarch processes
	pool  *pgxpool.Pool
	q     *queue.Lanes // live and backfill lanes on the Postgres queue
	emb   embedding.Embedder
	store vectorstore.Store
	model string
	log   *slog.Logger
}

const maxReceives = 4

func newEnv(t testing.TB) *env { return newEnvReceives(t, maxReceives) }

func newEnvReceives(t testing.TB, receives int) *env {
	t.Helper()
	return newEnvWith(t, receives, embedding.NewHash(32))
}

// newEnvWith is an environment whose pipeline embeds with emb.
func newEnvWith(t testing.TB, receives int, emb embedding.Embedder) *env {
	t.Helper()
	ctx := context.Background()
	// Pelican and emu each hold a transaction while the queue or the vector
	// store uses another connection, so the pool must be roomy.
	url := pgtest.NewURL(t)
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 48
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	q, closeQueue := pgqueue.NewLanes(pool, pgqueue.Options{MaxReceives: receives, PollInterval: 200 * time.Millisecond})
	t.Cleanup(closeQueue)
	store, err := pgvectorstore.New(ctx, pool, emb.Model(), emb.Dimension())
	if err != nil {
		t.Fatal(err)
	}
	w := io.Writer(io.Discard)
	if os.Getenv("PIPELINETEST_LOG") != "" {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &env{t: t, url: url, pool: pool, q: q, emb: emb, store: store, model: emb.Model(), log: log}
}

// role runs something with Run(ctx) in the background until stopped.
type role struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop cancels the role and waits for Run to return; it may be called
// more than once.
func (r *role) stop() error {
	r.cancel()
	<-r.done
	return r.err
}

func start(t testing.TB, run func(context.Context) error) *role {
	ctx, cancel := context.WithCancel(context.Background())
	r := &role{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("role did not stop within 30s of cancel")
		}
	})
	return r
}

func (e *env) pelicanConfig() pelican.Config {
	return pelican.Config{Model: e.model, BatchSize: 100, PollInterval: 200 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

func (e *env) emuConfig() emu.Config {
	return emu.Config{Concurrency: 2, BatchSize: 32, Visibility: 5 * time.Second, Wait: 500 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxReceives: maxReceives, DepthInterval: -1}
}

func (e *env) startPelican(cfg pelican.Config, q queue.Queue) *role {
	if q == nil {
		q = e.q
	}
	p := pelican.New(e.pool, q, cfg, e.log, nil)
	return start(e.t, p.Run)
}

func (e *env) startEmu(cfg emu.Config, q queue.Queue, emb embedding.Embedder, store vectorstore.Store) *role {
	if q == nil {
		q = e.q
	}
	if emb == nil {
		emb = e.emb
	}
	if store == nil {
		store = e.store
	}
	m := emu.New(e.pool, q, emb, store, cfg, e.log, nil)
	return start(e.t, m.Run)
}

var skuSeq atomic.Int64

// insert adds n products and returns their ids.
func (e *env) insert(ctx context.Context, n int, category string) []int64 {
	e.t.Helper()
	skus, names, descs := make([]string, n), make([]string, n), make([]string, n)
	base := skuSeq.Add(int64(n))
	for i := range n {
		skus[i] = fmt.Sprintf("SKU-%d", base-int64(i))
		names[i] = fmt.Sprintf("Product %d", base-int64(i))
		descs[i] = fmt.Sprintf("A %s thing number %d with words %d", category, base-int64(i), (base-int64(i))%97)
	}
	rows, err := e.pool.Query(ctx, `INSERT INTO products (sku, name, description, price, category)
		SELECT s, n, d, 9.99, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(s, n, d) RETURNING id`, skus, names, descs, category)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func (e *env) exec(ctx context.Context, sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(ctx, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// randomSeed is the seed of a randomized test: PIPELINETEST_SEED when set,
// to replay a failure, or else the clock. It is logged either way.
func randomSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PIPELINETEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PIPELINETEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with PIPELINETEST_SEED=%[1]d)", seed)
	return seed
}

// waitFor polls cond until it returns "" or the deadline passes.
var waitFor = testkit.WaitFor

// status returns the pipeline status.
func (e *env) status(ctx context.Context) status.Status {
	e.t.Helper()
	s, err := status.Get(ctx, e.pool, e.q, e.model)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// synced is a waitFor condition: status says in sync and the queue is empty.
func (e *env) synced(ctx context.Context) func() string {
	return func() string {
		s, err := status.Get(ctx, e.pool, e.q, e.model)
		if err != nil {
			return err.Error()
		}
		if s.InSync() && s.Queue.Visible == 0 && s.Queue.InFlight == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", s)
	}
}

// diff compares the table with index_state and with the vector store: same
// ids, versions, content hashes, metadata. It returns "" when they match.
func (e *env) diff(ctx context.Context) string {
	type rec struct {
		version  int64
		hash     string
		category string
		price    float64
	}
	table := map[int64]rec{}
	rows, err := e.pool.Query(ctx, `SELECT id, name, description, version, category, (price*100)::bigint FROM products`)
	if err != nil {
		return err.Error()
	}
	for rows.Next() {
		var id, v, cents int64
		var name, desc, cat string
		if err := rows.Scan(&id, &name, &desc, &v, &cat, &cents); err != nil {
			return err.Error()
		}
		table[id] = rec{v, product.ContentHash(product.EmbedText(name, desc)), cat, product.Price(cents).Float()}
	}
	if rows.Err() != nil {
		return rows.Err().Error()
	}
	state := map[int64]rec{}
	rows, err = e.pool.Query(ctx, `SELECT product_id, version, content_hash FROM index_state WHERE model = $1 AND NOT deleted`, e.model)
	if err != nil {
		return err.Error()
	}
	for rows.Next() {
		var id, v int64
		var h string
		if err := rows.Scan(&id, &v, &h); err != nil {
			return err.Error()
		}
		state[id] = rec{version: v, hash: h}
	}
	if rows.Err() != nil {
		return rows.Err().Error()
	}
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	ids := make([]string, 0, len(table))
	for id, r := range table {
		s, ok := state[id]
		switch {
		case !ok:
			add("product %d v%d not in index_state", id, r.version)
		case s.version != r.version || s.hash != r.hash:
			add("product %d: table v%d %s, index_state v%d %s", id, r.version, r.hash, s.version, s.hash)
		}
		ids = append(ids, vectormeta.VectorID(id))
	}
	for id := range state {
		if _, ok := table[id]; !ok {
			add("index_state holds deleted product %d", id)
		}
	}
	slices.Sort(ids)
	for chunk := range slices.Chunk(ids, 1000) {
		vecs, err := e.store.Fetch(ctx, chunk)
		if err != nil {
			return err.Error()
		}
		for _, id := range chunk {
			pid, _ := vectormeta.ParseVectorID(id)
			r := table[pid]
			v, ok := vecs[id]
			switch {
			case !ok:
				add("product %d missing from the vector store", pid)
			case v.Meta.Version != r.version || v.Meta.ContentHash != r.hash || v.Meta.Category != r.category || v.Meta.Price != r.price:
				add("product %d: table v%d %s %s %.2f, vector %+v", pid, r.version, r.hash, r.category, r.price, v.Meta)
			}
		}
	}
	n, err := e.store.Count(ctx)
	if err != nil {
		return err.Error()
	}
	if n != len(table) {
		add("vector store holds %d vectors, table has %d rows", n, len(table))
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// converged waits until the pipeline is idle and the index equals the table.
func (e *env) converged(ctx context.Context, d time.Duration) {
	e.t.Helper()
	waitFor(e.t, d, e.synced(ctx))
	waitFor(e.t, d, func() string { return e.diff(ctx) })
}

// countingEmbedder counts texts embedded.
type countingEmbedder struct {
	embedding.Embedder
	calls, texts atomic.Int64
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.calls.Add(1)
	c.texts.Add(int64(len(texts)))
	return c.Embedder.Embed(ctx, texts)
}

// faultyEmbedder fails every call while down is set, and any call with a
// text containing poison.
type faultyEmbedder struct {
	embedding.Embedder
	down     atomic.Bool
	mu       sync.Mutex
	poison   string
	failures atomic.Int64
}

func (f *faultyEmbedder) setPoison(s string) {
	f.mu.Lock()
	f.poison = s
	f.mu.Unlock()
}

func (f *faultyEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if f.down.Load() {
		f.failures.Add(1)
		return nil, fmt.Errorf("embedder unavailable")
	}
	f.mu.Lock()
	poison := f.poison
	f.mu.Unlock()
	for _, t := range texts {
		if poison != "" && strings.Contains(t, poison) {
			f.failures.Add(1)
			return nil, fmt.Errorf("embedder cannot handle this text")
		}
	}
	return f.Embedder.Embed(ctx, texts)
}

// flakyStore answers ErrTransient (as a rate limit would) to the next
// limited calls that write.
type flakyStore struct {
	vectorstore.Store
	limited atomic.Int64
	refused atomic.Int64
}

func (f *flakyStore) refuse() error {
	if f.limited.Add(-1) >= 0 {
		f.refused.Add(1)
		return fmt.Errorf("429 too many requests: %w", vectorstore.ErrTransient)
	}
	return nil
}

func (f *flakyStore) Upsert(ctx context.Context, v []vectorstore.Vector) error {
	if err := f.refuse(); err != nil {
		return err
	}
	return f.Store.Upsert(ctx, v)
}

func (f *flakyStore) UpdateMetadata(ctx context.Context, m []vectormeta.Metadata) error {
	if err := f.refuse(); err != nil {
		return err
	}
	return f.Store.UpdateMetadata(ctx, m)
}

// monitorStore records every successful write and flags any that takes a
// vector back to an older version, or brings a deleted one back (G3, G4).
type monitorStore struct {
	vectorstore.Store
	mu         sync.Mutex
	latest     map[string]int64
	deleted    map[string]bool
	violations []string
}

func newMonitor(s vectorstore.Store) *monitorStore {
	return &monitorStore{Store: s, latest: map[string]int64{}, deleted: map[string]bool{}}
}

func (m *monitorStore) note(id string, v int64) {
	if m.deleted[id] {
		m.violations = append(m.violations, fmt.Sprintf("vector %s written (v%d) after its delete", id, v))
	}
	if prev, ok := m.latest[id]; ok && v < prev {
		m.violations = append(m.violations, fmt.Sprintf("vector %s went back from v%d to v%d", id, prev, v))
	}
	m.latest[id] = max(m.latest[id], v)
}

func (m *monitorStore) Upsert(ctx context.Context, vs []vectorstore.Vector) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.Store.Upsert(ctx, vs); err != nil {
		return err
	}
	for _, v := range vs {
		m.note(v.ID, v.Meta.Version)
	}
	return nil
}

func (m *monitorStore) UpdateMetadata(ctx context.Context, ms []vectormeta.Metadata) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.Store.UpdateMetadata(ctx, ms); err != nil {
		return err
	}
	for _, x := range ms {
		m.note(vectormeta.VectorID(x.ProductID), x.Version)
	}
	return nil
}

func (m *monitorStore) Delete(ctx context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.Store.Delete(ctx, ids); err != nil {
		return err
	}
	for _, id := range ids {
		m.deleted[id] = true
	}
	return nil
}

func (m *monitorStore) problems() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.violations)
}
