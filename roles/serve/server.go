// Package serve is the web role: the JSON API, the HTML UI, search, health
// and metrics. Handlers stay thin; the work is in catalog, search and status.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/internal/buildinfo"
	"github.com/refarch/refarch/product"
)

// Config is serve's own configuration.
type Config struct {
	Addr       string
	AdminToken string
	// DrainDelay is how long, after the context is cancelled, the server
	// keeps answering (with /readyz at 503) before it stops accepting
	// connections: long enough for a load balancer's health checks to take
	// it out of rotation.
	DrainDelay time.Duration
	// MetricsAddr, when set, moves /metrics off Addr onto a listener of its
	// own, so that a public load balancer in front of Addr never exposes it.
	MetricsAddr string
	RateLimit   RateLimit
}

// Catalog is what serve needs of the products table.
type Catalog interface {
	List(ctx context.Context, o catalog.ListOptions) ([]product.Product, int, error)
	Get(ctx context.Context, id int64) (product.Product, error)
	Create(ctx context.Context, p product.Product) (product.Product, error)
	Update(ctx context.Context, p product.Product) (product.Product, error)
	Delete(ctx context.Context, id int64) error
	Categories(ctx context.Context) ([]string, error)
}

// Deps are built by app for exactly this role.
type Deps struct {
	Catalog  Catalog
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Ready reports whether the database is reachable and its schema current.
	Ready func(ctx context.Context) error
	// Search answers /api/search and the UI's search box; nil disables search.
	Search Searcher
	// SyncStates fills the per-row sync badges; nil hides them.
	SyncStates SyncStates
	// Status feeds /status; nil shows only what serve itself knows.
	Status StatusFunc
	// Index changes the index generations from the status page; nil
	// hides the actions.
	Index IndexAdmin
	// Build is what GET /version answers: which build and image digest this process runs.
	Build buildinfo.Info
}

// Server is the serve role.
type Server struct {
	cfg      Config
	deps     Deps
	handler  http.Handler
	requests *prometheus.HistogramVec
	samples  sampler
	gauges   statusGauges
	// reading is the status reading in flight (startRead), one at a
	// time; reads counts them for Serve to wait on.
	reads    sync.WaitGroup
	readMu   sync.Mutex
	reading  *statusRead
	searches searchMetrics
	draining atomic.Bool
	// patterns lists every route registered, for the OpenAPI test.
	patterns []string
}

// New builds the server and its routes.
func New(cfg Config, deps Deps) *Server {
	s := &Server{cfg: cfg, deps: deps}
	s.requests = promauto.With(deps.Registry).NewHistogramVec(prometheus.HistogramOpts{
		Name:    "refarch_http_request_duration_seconds",
		Help:    "HTTP request latency by route and status.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"route", "code"})
	s.searches = newSearchMetrics(deps.Registry)
	s.gauges = newStatusGauges(deps.Registry)
	mux := http.NewServeMux()
	s.routes(mux)
	// Browsers say where a request comes from (Sec-Fetch-Site, Origin):
	// a cross-site form post or fetch is refused before any handler runs.
	s.handler = http.NewCrossOriginProtection().Handler(mux)
	if cfg.RateLimit.PerSecond > 0 {
		s.handler = newLimiter(cfg.RateLimit, deps.Registry).wrap(s.handler)
	}
	return s
}

// NewOps is the HTTP server of a process that runs pelican or emu without
// serve: only /healthz, /readyz and /metrics, so that container health
// checks and metric scrapers treat every role alike. deps needs only Log,
// Registry and Ready.
func NewOps(cfg Config, deps Deps) *Server {
	s := &Server{cfg: cfg, deps: deps}
	mux := http.NewServeMux()
	s.healthRoutes(mux)
	s.handler = mux
	return s
}

func (s *Server) healthRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /healthz", http.HandlerFunc(s.healthz))
	s.route(mux, "GET /readyz", http.HandlerFunc(s.readyz))
	s.route(mux, "GET /version", http.HandlerFunc(s.version))
	if s.cfg.MetricsAddr == "" {
		s.route(mux, "GET /metrics", s.metricsHandler())
	}
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{Registry: s.deps.Registry})
}

// MetricsHandler is what the metrics listener answers: /metrics only.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

func (s *Server) routes(mux *http.ServeMux) {
	s.healthRoutes(mux)
	s.handle(mux, "GET /api/products", s.listProducts)
	s.handle(mux, "POST /api/products", s.requireToken(s.createProduct))
	s.handle(mux, "GET /api/products/{id}", s.getProduct)
	s.handle(mux, "PUT /api/products/{id}", s.requireToken(s.updateProduct))
	s.handle(mux, "PATCH /api/products/{id}", s.requireToken(s.patchProduct))
	s.handle(mux, "DELETE /api/products/{id}", s.requireToken(s.deleteProduct))
	s.handle(mux, "GET /api/search", s.apiSearch)
	s.handle(mux, "GET /api/openapi.json", serveOpenAPI)
	s.uiRoutes(mux)
	s.handle(mux, "GET /status", s.statusPage)
	s.indexRoutes(mux)
}

// route registers a route and remembers its pattern.
func (s *Server) route(mux *http.ServeMux, pattern string, h http.Handler) {
	s.patterns = append(s.patterns, pattern)
	mux.Handle(pattern, h)
}

// Routes lists the patterns of every route the server answers.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// handle registers a route with its latency metric.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	s.route(mux, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		s.requests.WithLabelValues(pattern, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	}))
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Handler exposes the routes, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves until ctx is done, then drains in-flight requests.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (another refarch process? give each its own --addr): %w", s.cfg.Addr, err)
	}
	if s.cfg.MetricsAddr == "" {
		return s.Serve(ctx, ln)
	}
	mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen for metrics on %s: %w", s.cfg.MetricsAddr, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Serve(gctx, ln) })
	g.Go(func() error { return serveHTTP(gctx, s.deps.Log, mln, s.MetricsHandler()) })
	return g.Wait()
}

// serveHTTP serves h on ln until ctx is done, then drains.
func serveHTTP(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second}
	log.InfoContext(ctx, "metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down metrics: %w", err)
	}
	return nil
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.deps.Log.InfoContext(ctx, "http listening", "url", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer s.stopReads()
	defer stopSampling()
	go func() { errc <- srv.Serve(ln) }()
	go s.sample(sampleCtx)
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if s.cfg.DrainDelay > 0 {
		s.deps.Log.InfoContext(ctx, "draining: /readyz answers 503", "for", s.cfg.DrainDelay)
		select {
		case err := <-errc:
			return fmt.Errorf("serve http: %w", err)
		case <-time.After(s.cfg.DrainDelay):
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// version answers which build runs here, so a release can check that the tasks answering are
// the ones it deployed (the image digest) rather than ones a rollback left in place.
func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.deps.Build)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// apiError is the body of every API error.
type apiError struct {
	Error  string               `json:"error"`
	Fields []product.FieldError `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the status is sent; a client gone is not our error
}

// writeError maps domain errors to HTTP answers; unknown errors are logged
// and hidden behind a 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if v, ok := product.AsValidation(err); ok {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: v.Error(), Fields: v})
		return
	}
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
	case errors.Is(err, catalog.ErrConflict):
		writeJSON(w, http.StatusConflict, apiError{Error: err.Error() + "; reload and try again"})
	case errors.As(err, new(idError)):
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Fields: []product.FieldError{{Field: "id", Message: strings.TrimPrefix(err.Error(), "id: ")}}})
	case errors.Is(err, errBadRequest):
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
	default:
		s.deps.Log.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error"})
	}
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}
