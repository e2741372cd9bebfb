// Package quota names the service quota behind a throttled call (SQS's
// ThrottlingException, Pinecone's 429), so that pelican and emu can back off
// and say which quota bounds their throughput instead of treating the call
// as failed.
package quota

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Error is a call refused because a quota was exceeded; retrying later
// succeeds.
type Error struct {
	// Quota names the limit, e.g. "sqs SendMessageBatch calls/s".
	Quota string
	Err   error
}

func (e *Error) Error() string { return "quota " + e.Quota + " exceeded: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Of returns the quota named by err, if err is (or wraps) a quota Error.
func Of(err error) (string, bool) {
	var qe *Error
	if errors.As(err, &qe) {
		return qe.Quota, true
	}
	return "", false
}

// Watch counts throttled calls by quota in a metric and logs which quota
// bound the role's throughput, at most once per quota every Every.
type Watch struct {
	// Every spaces the log lines of one quota. Default 10 s.
	Every time.Duration

	log     *slog.Logger
	counter *prometheus.CounterVec
	mu      sync.Mutex
	logged  map[string]time.Time
}

// NewWatch registers metric (a counter with a quota label) in reg.
func NewWatch(metric string, log *slog.Logger, reg prometheus.Registerer) *Watch {
	return &Watch{Every: 10 * time.Second, log: log, logged: map[string]time.Time{},
		counter: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: metric,
			Help: "Calls refused by a service quota (throttled) and retried after a backoff, by quota."}, []string{"quota"})}
}

// Counter is the throttle counter, by quota.
func (w *Watch) Counter() *prometheus.CounterVec { return w.counter }

// Note records err if it is a quota error and reports whether it was.
func (w *Watch) Note(ctx context.Context, err error) bool {
	q, ok := Of(err)
	if !ok {
		return false
	}
	w.counter.WithLabelValues(q).Inc()
	w.mu.Lock()
	due := time.Since(w.logged[q]) >= w.Every
	if due {
		w.logged[q] = time.Now()
	}
	w.mu.Unlock()
	if due {
		w.log.WarnContext(ctx, "throughput bound by a service quota, backing off", "quota", q, "err", err)
	}
	return true
}
