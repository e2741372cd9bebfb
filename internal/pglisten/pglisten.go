// Package pglisten keeps a LISTEN on one Postgres channel alive on a
// connection of its own, for the outbox (pelican) and the Postgres queue.
// A notification is only a wake-up: after a lost connection the listener
// reconnects with backoff and wakes its owner once, since notifications may
// have been missed meanwhile, and the owner polls as a safety net anyway.
package pglisten

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/backoff"
)

// Listener holds the listening connection.
type Listener struct {
	cfg     *pgx.ConnConfig
	before  func(context.Context, *pgx.ConnConfig) error
	channel string
	conn    *pgx.Conn

	// Name says whose listener it is in log lines ("outbox", "queue").
	Name string
	// MinBackoff and MaxBackoff bound the waits between reconnect attempts.
	// Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Log receives reconnect warnings; nil discards them.
	Log *slog.Logger
	// Reconnected, if set, is called after each successful reconnect.
	Reconnected func()
}

// Listen connects the way the pool of cfg does (its BeforeConnect too, so
// a rotated password or a fresh token reaches the listener) and listens on
// channel (an identifier chosen by the code, not by users). The first
// connection must succeed, so that a wrong URL fails at start.
func Listen(ctx context.Context, cfg *pgxpool.Config, channel string) (*Listener, error) {
	l := &Listener{cfg: cfg.ConnConfig, before: cfg.BeforeConnect, channel: channel, MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	l.conn = conn
	return l, nil
}

func (l *Listener) connect(ctx context.Context) (*pgx.Conn, error) {
	cc := l.cfg.Copy()
	if l.before != nil {
		if err := l.before(ctx, cc); err != nil {
			return nil, fmt.Errorf("connect to listen on %s: %w", l.channel, err)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect to listen on %s: %w", l.channel, err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+l.channel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen on %s: %w", l.channel, err)
	}
	return conn, nil
}

// Run calls wake for every notification, and once after each reconnect,
// until ctx is done; then it closes the connection.
func (l *Listener) Run(ctx context.Context, wake func()) {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn := l.conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	failures := 0
	for {
		if conn == nil {
			// The first attempt is at once; failed ones back off.
			if failures > 0 && !backoff.Sleep(ctx, backoff.Delay(failures-1, l.MinBackoff, l.MaxBackoff)) {
				return
			}
			c, err := l.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				log.WarnContext(ctx, "listener reconnect failed", "listener", l.Name, "err", err, "attempt", failures)
				continue
			}
			conn, failures = c, 0
			log.InfoContext(ctx, "listener reconnected", "listener", l.Name)
			if l.Reconnected != nil {
				l.Reconnected()
			}
			wake()
		}
		_, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.WarnContext(ctx, "listener lost its connection", "listener", l.Name, "err", err)
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
			continue
		}
		wake()
	}
}
