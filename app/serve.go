package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/roles/serve"
	"github.com/refarch/refarch/search"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// serveDeps builds serve's dependencies beyond logging, metrics and
// readiness: the catalog, search with the active generation's embedder and
// vector store, the per-row sync badges and the status page. The returned
// func follows promotions until ctx ends.
func serveDeps(ctx context.Context, cfg Config, pool *pgxpool.Pool, sh *shared, log *slog.Logger, reg prometheus.Registerer) (serve.Deps, func(context.Context) error, error) {
	products := catalog.NewStore(pool)
	rate := &rateMeter{window: rateWindow}
	gm := newGenerationMetrics(reg)
	a := &activeSearch{pool: pool, gens: sh.gens, products: products, log: log, cfg: cfg, batchers: sh.batchers}
	if err := a.use(ctx, sh.active); err != nil {
		return serve.Deps{}, nil, err
	}
	follow := func(ctx context.Context) error {
		generations.Watch(ctx, pool, 0, log, a.reload)
		return nil
	}
	return serve.Deps{
		Catalog: products,
		Search:  a,
		SyncStates: func(ctx context.Context, ids []int64) (map[int64]string, error) {
			return status.ProductStates(ctx, pool, a.current().gen.Name, ids)
		},
		Status: func(ctx context.Context) (serve.Status, error) {
			cur := a.current()
			model := cur.gen.Name
			st, err := status.Get(ctx, pool, sh.q, model)
			if err != nil {
				return serve.Status{}, err
			}
			writes, err := indexstate.New(pool, model).IndexWrites(ctx)
			if err != nil {
				return serve.Status{}, err
			}
			out := serve.Status{
				Products: st.Products, Indexed: st.Indexed, Stale: st.Stale, Missing: st.Missing, Failed: st.Failed,
				Outbox: st.Outbox, QueueVisible: int64(st.Queue.Visible), QueueInFlight: int64(st.Queue.InFlight),
				QueueDead: int64(st.Queue.Dead), LagSeconds: st.OldestUnindexedAgeSeconds,
				IndexRate: rate.observe(time.Now(), writes), Model: model, VectorStore: cur.store.Name(),
				Outage: outageText(st.Outage),
			}
			if d, ok := st.QueueLanes[queue.LaneLive]; ok {
				out.QueueLive = int64(d.Visible + d.InFlight)
			}
			if d, ok := st.QueueLanes[queue.LaneBackfill]; ok {
				out.QueueBackfill = int64(d.Visible + d.InFlight)
			}
			if ip, ok := cur.store.(indexProgress); ok {
				p, err := ip.IndexProgress(ctx)
				if err != nil {
					return serve.Status{}, err
				}
				out.SearchIndex = &p
			}
			out.Generations = st.Generations
			gm.set(out.Generations)
			return out, nil
		},
	}, follow, nil
}

// served is the generation searches use: its search service embeds with
// its embedder and reads its store and recent vectors.
type served struct {
	gen    generations.Generation
	store  vectorstore.Store
	search *search.Service
}

// activeSearch answers every search with the active generation. Each
// search takes the generation once, at its start, so a promotion during a
// search never mixes a query vector of one model with an index of another.
type activeSearch struct {
	pool     *pgxpool.Pool
	gens     *genOpener
	products *catalog.Store
	log      *slog.Logger
	cfg      Config
	batchers *batchers
	cur      atomic.Pointer[served]
}

func (a *activeSearch) current() *served { return a.cur.Load() }

// Search runs q on the active generation.
func (a *activeSearch) Search(ctx context.Context, q search.Query) (search.Response, error) {
	return a.current().search.Search(ctx, q)
}

// use opens g (once per process) and makes it the one searches use.
func (a *activeSearch) use(ctx context.Context, g generations.Generation) error {
	emb, store, err := a.gens.Open(ctx, g)
	if err != nil {
		return err
	}
	qemb := a.batchers.wrap(a.cfg, g, emb) //nolint:contextcheck // the batcher outlives ctx on purpose (see batchers)
	svc := search.New(qemb, store, a.products, search.NewPGFullText(a.pool, a.cfg.SearchTimeout)).
		WithRecent(recentvectors.NewScanner(a.pool, g.Name, recentvectors.Options{}))
	a.cur.Store(&served{gen: g, store: store, search: svc})
	return nil
}

// reload switches to the active generation when it changed.
func (a *activeSearch) reload(ctx context.Context) {
	g, err := generations.GetActive(ctx, a.pool)
	if err != nil {
		if ctx.Err() == nil {
			a.log.WarnContext(ctx, "read the active index generation", "err", err)
		}
		return
	}
	if cur := a.current(); cur != nil && cur.gen.Name == g.Name {
		return
	}
	if err := a.use(ctx, g); err != nil {
		a.log.ErrorContext(ctx, "search the newly active generation: keeping the previous one", "generation", g.Name, "err", err)
		return
	}
	a.log.InfoContext(ctx, "searches use the active index generation", "generation", g.Name, "model", g.Model)
}

// generationMetrics are the per-generation gauges, set whenever serve reads
// the status (every 5 s for the status page's chart).
type generationMetrics struct {
	indexed, total, rate *prometheus.GaugeVec
}

func newGenerationMetrics(reg prometheus.Registerer) generationMetrics {
	f := promauto.With(reg)
	labels := []string{"generation", "state"}
	return generationMetrics{
		indexed: f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_index_generation_indexed",
			Help: "Rows whose current version the index generation holds."}, labels),
		total: f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_index_generation_total",
			Help: "Rows in the table, which every index generation is to hold."}, labels),
		rate: f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_index_generation_rate_per_second",
			Help: "Products written to the index generation per second over the last minute (a building one's backfill rate)."}, labels),
	}
}

func (m generationMetrics) set(gens []status.Generation) {
	m.indexed.Reset()
	m.total.Reset()
	m.rate.Reset()
	for _, g := range gens {
		m.indexed.WithLabelValues(g.Name, g.State).Set(float64(g.Indexed))
		m.total.WithLabelValues(g.Name, g.State).Set(float64(g.Total))
		m.rate.WithLabelValues(g.Name, g.State).Set(g.RatePerSecond)
	}
}

// outageText is the status page's line for an outage, "" for none.
func outageText(o *status.Outage) string {
	if o == nil {
		return ""
	}
	return fmt.Sprintf("%s failing for every product since %s UTC (%s)", strings.ReplaceAll(o.Component, "_", " "),
		o.Since.UTC().Format(time.DateTime), o.Error)
}

// indexProgress is implemented by stores that build a search index.
type indexProgress interface {
	IndexProgress(ctx context.Context) (vectorstore.IndexProgress, error)
}

// rateWindow is the window of the status page's throughput.
const rateWindow = 10 * time.Second

// rateMeter turns readings of a running total into a rate per second over
// about the last window.
type rateMeter struct {
	mu      sync.Mutex
	window  time.Duration
	samples []rateSample
}

type rateSample struct {
	at    time.Time
	total int64
}

// observe records total at now and returns the rate since the oldest
// reading within the window (the newest older one, if none is), 0 for the
// first reading.
func (m *rateMeter) observe(now time.Time, total int64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Keep one reading at or beyond the window as the base.
	for len(m.samples) > 1 && now.Sub(m.samples[1].at) >= m.window {
		m.samples = m.samples[1:]
	}
	if len(m.samples) == 0 || now.Sub(m.samples[len(m.samples)-1].at) >= time.Second {
		m.samples = append(m.samples, rateSample{now, total})
	}
	base := m.samples[0]
	dt := now.Sub(base.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return max(0, float64(total-base.total)/dt)
}

// batchers let concurrent searches share one forward pass of a generation's
// model; they outlive the serve context on purpose (searches still draining
// after SIGTERM need them), and the process closes them once serve stopped.
type batchers struct {
	mu   sync.Mutex
	open map[string]*embedding.Batcher
}

// wrap returns emb behind g's batcher (made once), or emb itself for the
// hash test embedder, which costs microseconds a text, or when batching is
// off.
func (b *batchers) wrap(cfg Config, g generations.Generation, emb embedding.Embedder) embedding.Embedder {
	if cfg.SearchBatchWait <= 0 || g.Embedder == "hash" {
		return emb
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	key := generationKey(g)
	if bt, ok := b.open[key]; ok {
		return bt
	}
	bt := embedding.NewBatcher(emb, embedding.BatchOptions{Wait: cfg.SearchBatchWait})
	b.open[key] = bt
	return bt
}

func (b *batchers) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, bt := range b.open {
		bt.Close()
		delete(b.open, k)
	}
}
