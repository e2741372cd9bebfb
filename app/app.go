// Package app builds the shared dependencies (logger, metrics registry,
// Postgres pool, queue, vector store, embedder) for exactly the roles a
// process runs, and runs those roles together: the first failure stops them
// all, and cancelling the context (SIGTERM) drains them before Run returns.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/emf"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/buildinfo"
	"github.com/refarch/refarch/migrations"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/roles/serve"
)

// NewLogger builds the process logger.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) //nolint:errcheck // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenDB connects to Postgres and checks the connection, so that a wrong URL
// fails at start with a clear message rather than at the first request.
func OpenDB(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	return openDB(ctx, cfg, 16)
}

// openDB is OpenDB with a pool of at least minConns connections (a
// pool_max_conns in the URL may raise it further).
func openDB(ctx context.Context, cfg Config, minConns int32) (*pgxpool.Pool, error) {
	pcfg, err := poolConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = max(pcfg.MaxConns, minConns)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", RedactURL(cfg.DSN()), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, connectErr(cfg, err)
	}
	return pool, nil
}

// poolSize is how many connections the roles need at most: every emu lane
// (Pipeline of them per worker) holds a transaction while the vector store
// and the queue use other connections, pelican does the same, and serve
// answers requests beside them. A pool smaller than that can starve itself.
func poolSize(cfg Config, roles Roles) int32 {
	n := 16
	if roles.Emu {
		n = max(n, 2*cfg.EmuConcurrency*max(cfg.EmuPipeline, 1)+8)
		if roles.Serve {
			n += 8
		}
	}
	return int32(n)
}

// emfFamilies are the figures the CloudWatch dashboard shows from the app itself: index freshness,
// queue backlog by state, pelican's catch-up backlog and search latency. Each label value is a
// custom metric, so the list is short on purpose.
var emfFamilies = []string{
	"refarch_emu_freshness_seconds", "refarch_queue_messages",
	"refarch_pelican_catchup_chunks_remaining", "refarch_search_duration_seconds",
}

// emfPublisher publishes emfFamilies on stdout, where the awslogs driver picks them up, with the
// process's roles as the Service dimension.
func emfPublisher(roles Roles, reg *prometheus.Registry) *emf.Publisher {
	var names []string
	for name, on := range map[string]bool{"serve": roles.Serve, "pelican": roles.Pelican, "emu": roles.Emu} {
		if on {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return emf.New(emf.Config{Namespace: "refarch", Dimensions: map[string]string{"Service": strings.Join(names, "+")},
		Families: emfFamilies, Out: os.Stdout}, reg)
}

// Run starts the selected roles and blocks until ctx is cancelled or one
// of them fails. Whatever roles run, the process answers /healthz, /readyz
// and /metrics on cfg.Addr: serve among its routes, pelican and emu alone
// on a server of just those three.
func Run(ctx context.Context, cfg Config, roles Roles, log *slog.Logger) error {
	if err := cfg.Validate(roles); err != nil {
		return err
	}
	if !roles.Serve && !roles.Pelican && !roles.Emu {
		return errors.New("no role selected")
	}
	pool, err := openDB(ctx, cfg, poolSize(cfg, roles))
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Check(ctx, pool); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	sh, err := openShared(ctx, cfg, roles, pool, log)
	if err != nil {
		return err
	}
	defer sh.close()

	connects := newConnectionCheck(pool.Config())
	ready := func(ctx context.Context) error {
		if err := connects(ctx); err != nil {
			return err
		}
		return migrations.Check(ctx, pool)
	}
	var rs []namedRole
	if roles.Serve {
		deps, follow, err := serveDeps(ctx, cfg, pool, sh, log, reg)
		if err != nil {
			return err
		}
		rs = append(rs, namedRole{"generations", follow})
		deps.Log, deps.Registry, deps.Ready, deps.Build = log, reg, ready, buildinfo.Get(os.Getenv)
		deps.Index = indexAdmin{cfg: cfg, pool: pool}
		srv := serve.New(serve.Config{Addr: cfg.Addr, AdminToken: cfg.AdminToken, DrainDelay: cfg.DrainDelay, MetricsAddr: cfg.MetricsAddr,
			RateLimit: serve.RateLimit{PerSecond: cfg.RateLimit, Burst: cfg.RateBurst, TrustForwardedFor: cfg.TrustForwardedFor}}, deps)
		rs = append(rs, namedRole{"serve", srv.Run})
	} else {
		ops := serve.NewOps(serve.Config{Addr: cfg.Addr, MetricsAddr: cfg.MetricsAddr, DrainDelay: cfg.DrainDelay}, serve.Deps{Log: log, Registry: reg, Ready: ready, Build: buildinfo.Get(os.Getenv)})
		rs = append(rs, namedRole{"health", ops.Run})
	}
	rs = append(rs, pipelineRoles(cfg, roles, pool, sh, log, reg)...)
	if roles.Emu {
		rs = append(rs, namedRole{"generation-drops", func(ctx context.Context) error { return finishDrops(ctx, cfg, pool, log) }})
	}
	if roles.Serve || roles.Emu {
		// Keeps status reads short: applies the logged changes to the
		// index's counts (one folder runs at a time across processes).
		rs = append(rs, namedRole{"status-fold", func(ctx context.Context) error { return indexstate.RunFolder(ctx, pool, log) }})
	}
	if cfg.MetricsEMF {
		rs = append(rs, namedRole{"emf", emfPublisher(roles, reg).Run})
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, r := range rs {
		g.Go(func() error {
			log.InfoContext(gctx, "role starting", "role", r.name)
			err := r.run(gctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.ErrorContext(gctx, "role failed", "role", r.name, "err", err)
				return fmt.Errorf("%s: %w", r.name, err)
			}
			log.InfoContext(gctx, "role stopped", "role", r.name)
			return nil
		})
	}
	return g.Wait()
}

// shared is what several roles use, opened once per process: every role
// shares one queue, and the generations' embedders and stores are opened
// once (in serve --all, search embeds queries with the very embedder emu
// indexes with).
type shared struct {
	q    queue.Queue
	gens *genOpener
	// active is the active generation at start; serve follows promotions.
	active generations.Generation
	// batchers share query embeddings between concurrent searches.
	batchers *batchers
	close    func()
}

func openShared(ctx context.Context, cfg Config, roles Roles, pool *pgxpool.Pool, log *slog.Logger) (*shared, error) {
	active, err := activeGeneration(ctx, cfg, pool)
	if err != nil {
		return nil, err
	}
	q, closeQueue, err := OpenQueue(ctx, cfg, pool, log)
	if err != nil {
		return nil, err
	}
	gens := newGenOpener(cfg, pool, log)
	bs := &batchers{open: map[string]*embedding.Batcher{}}
	sh := &shared{q: q, gens: gens, active: active, batchers: bs, close: func() { bs.close(); gens.close(); closeQueue() }}
	if roles.Serve || roles.Emu {
		// A process that cannot open the active generation (no model
		// files, no credentials) fails at start, as a misconfiguration.
		// For Pinecone this creates the index (or waits for it), so
		// nothing is written or searched before it exists.
		if _, _, err := gens.Open(ctx, active); err != nil {
			sh.close()
			return nil, err
		}
	}
	return sh, nil
}
