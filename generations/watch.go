package generations

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pglisten"
)

// PollInterval is how often Watch reloads when no notification arrives.
const PollInterval = 5 * time.Second

// Watch calls reload whenever the generations change (a NOTIFY on Channel)
// and at every poll interval, so a lost notification costs latency only,
// until ctx is cancelled. A listener that cannot connect leaves the polling.
func Watch(ctx context.Context, pool *pgxpool.Pool, every time.Duration, log *slog.Logger, reload func(ctx context.Context)) {
	if every <= 0 {
		every = PollInterval
	}
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	if l, err := pglisten.Listen(ctx, pool.Config(), Channel); err != nil {
		log.WarnContext(ctx, "listen for index generation changes; polling only", "err", err)
		close(done)
	} else {
		l.Name, l.Log = "generations", log
		go func() {
			defer close(done)
			l.Run(ctx, func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
		}()
	}
	defer func() { <-done }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		reload(ctx)
	}
}
