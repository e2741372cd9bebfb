package serve

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"
)

// RateLimit bounds what one client may cost: every search embeds a query
// on serve's CPU and every write starts the pipeline, so each client gets a
// token bucket per class (search, write). Zero PerSecond turns it off.
type RateLimit struct {
	PerSecond float64
	Burst     int
	// TrustForwardedFor takes the client from the right-most
	// X-Forwarded-For entry, the one the load balancer appended. Off, the
	// client is the peer address, since any client can send the header.
	TrustForwardedFor bool
}

// limiter holds one token bucket per client and class.
type limiter struct {
	cfg     RateLimit
	limited *prometheus.CounterVec

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleBucket is how long an unused bucket is kept; a full bucket after that
// long is the same as a new one.
const idleBucket = 10 * time.Minute

func newLimiter(cfg RateLimit, reg prometheus.Registerer) *limiter {
	return &limiter{
		cfg:     cfg,
		buckets: map[string]*bucket{},
		limited: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "refarch_http_rate_limited_total",
			Help: "Requests answered 429 because their client exceeded its rate limit, by class (search or write).",
		}, []string{"class"}),
	}
}

// class names the limit a request falls under, or "" when it has none.
func class(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return "write"
	case r.URL.Path == "/api/search", r.URL.Path == "/" && strings.TrimSpace(r.URL.Query().Get("q")) != "":
		return "search"
	}
	return ""
}

// client is the address a request is counted against.
func (l *limiter) client(r *http.Request) string {
	if l.cfg.TrustForwardedFor {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if c := strings.TrimSpace(parts[len(parts)-1]); c != "" {
				return c
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// allow takes a token for the request's client and class, or says how long
// until one is there.
func (l *limiter) allow(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > idleBucket {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleBucket {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.PerSecond), max(l.cfg.Burst, 1))}
		l.buckets[key] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (l *limiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := class(r)
		if c == "" {
			next.ServeHTTP(w, r)
			return
		}
		wait, ok := l.allow(c+" "+l.client(r), time.Now())
		if !ok {
			l.limited.WithLabelValues(c).Inc()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, apiError{Error: "too many requests: slow down and retry after the Retry-After seconds"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
