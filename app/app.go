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
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/migrations"
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
	pcfg, err := pgxpool.ParseConfig(cfg.DSN())
	if err != nil {
		return nil, fmt.Errorf("parse database URL %s: %w", RedactURL(cfg.DSN()), err)
	}
	if pcfg.MaxConns < 16 {
		pcfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", RedactURL(cfg.DSN()), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s (is it running? `make db` starts a local one): %w", RedactURL(cfg.DSN()), err)
	}
	return pool, nil
}

// Run starts the selected roles and blocks until ctx is cancelled or one
// of them fails.
func Run(ctx context.Context, cfg Config, roles Roles, log *slog.Logger) error {
	if err := cfg.Validate(roles); err != nil {
		return err
	}
	pool, err := OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Check(ctx, pool); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	type role struct {
		name string
		run  func(context.Context) error
	}
	var rs []role
	if roles.Serve {
		extras, err := openServeExtras(ctx, cfg, pool, log)
		if err != nil {
			return err
		}
		defer extras.close()
		srv := serve.New(serve.Config{Addr: cfg.Addr, AdminToken: cfg.AdminToken}, serve.Deps{
			Catalog:  catalog.NewStore(pool),
			Log:      log,
			Registry: reg,
			Ready: func(ctx context.Context) error {
				if err := pool.Ping(ctx); err != nil {
					return fmt.Errorf("database unreachable: %w", err)
				}
				return migrations.Check(ctx, pool)
			},
			Search:     extras.search,
			SyncStates: extras.syncStates,
			Status:     extras.status,
		})
		rs = append(rs, role{"serve", srv.Run})
	}
	pipeline, closePipeline, err := pipelineRoles(ctx, cfg, roles, pool, log, reg)
	if err != nil {
		return err
	}
	defer closePipeline()
	for _, r := range pipeline {
		rs = append(rs, role{r.name, r.run})
	}
	if len(rs) == 0 {
		return errors.New("no role selected")
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
