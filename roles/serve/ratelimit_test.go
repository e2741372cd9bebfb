package serve_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/roles/serve"
)

func newLimited(t *testing.T, rl serve.RateLimit) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	pool := pgtest.New(t)
	reg := prometheus.NewRegistry()
	srv := serve.New(serve.Config{RateLimit: rl}, serve.Deps{
		Catalog:  catalog.NewStore(pool),
		Log:      slog.New(slog.DiscardHandler),
		Registry: reg,
		Ready:    pool.Ping,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, reg
}

func limitedGet(t *testing.T, ts *httptest.Server, path string, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	// One token every 100 s: the burst is all a client gets in this test.
	ts, reg := newLimited(t, serve.RateLimit{PerSecond: 0.01, Burst: 3})
	for i := range 3 {
		// No search is wired, so a search within the limit is a 503, never a 429.
		if r := limitedGet(t, ts, "/api/search?q=lamp", nil); r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("search %d of a burst of 3 was limited", i+1)
		}
	}
	r := limitedGet(t, ts, "/api/search?q=lamp", nil)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th search in a burst of 3 = %d, want 429", r.StatusCode)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 100 {
		t.Errorf("Retry-After = %q, want whole seconds until the next token (1..100)", r.Header.Get("Retry-After"))
	}
	// Reads that embed nothing stay unlimited.
	for range 5 {
		if r := limitedGet(t, ts, "/api/products", nil); r.StatusCode != http.StatusOK {
			t.Fatalf("listing products = %d, want 200: only searches and writes are limited", r.StatusCode)
		}
	}
	// Writes have their own bucket: the searches did not use it up.
	resp, err := http.Post(ts.URL+"/api/products", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.Error("the first write was limited by earlier searches")
	}
	if got := counter(t, reg, "refarch_http_rate_limited_total", "search"); got != 1 {
		t.Errorf("refarch_http_rate_limited_total{class=search} = %v, want 1", got)
	}
}

// counter reads one class of a counter in a registry.
func counter(t *testing.T, reg *prometheus.Registry, name, class string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "class" && l.GetValue() == class {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{class=%q}", name, class)
	return 0
}

func TestRateLimitCountsForwardedClientsOnlyWhenTrusted(t *testing.T) {
	t.Parallel()
	alice := http.Header{"X-Forwarded-For": {"203.0.113.7, 198.51.100.1"}}
	bob := http.Header{"X-Forwarded-For": {"203.0.113.7, 198.51.100.2"}}

	trusted, _ := newLimited(t, serve.RateLimit{PerSecond: 0.01, Burst: 1, TrustForwardedFor: true})
	limitedGet(t, trusted, "/api/search?q=a", alice)
	if r := limitedGet(t, trusted, "/api/search?q=a", bob); r.StatusCode == http.StatusTooManyRequests {
		t.Error("behind a trusted proxy, a second client shared the first one's bucket")
	}
	if r := limitedGet(t, trusted, "/api/search?q=a", alice); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("behind a trusted proxy, a client over its limit got %d", r.StatusCode)
	}

	// Untrusted, a client cannot escape its limit by inventing addresses.
	untrusted, _ := newLimited(t, serve.RateLimit{PerSecond: 0.01, Burst: 1})
	limitedGet(t, untrusted, "/api/search?q=a", alice)
	if r := limitedGet(t, untrusted, "/api/search?q=a", bob); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a forged X-Forwarded-For escaped the limit: %d", r.StatusCode)
	}
}

func TestMetricsMoveToTheirOwnListener(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	addr, metricsAddr := free(), free()
	srv := serve.New(serve.Config{Addr: addr, MetricsAddr: metricsAddr}, serve.Deps{
		Catalog:  catalog.NewStore(pool),
		Log:      slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Ready:    pool.Ping,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	status := func(url string) int {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c := status("http://" + addr + "/healthz"); c != 200 {
		t.Errorf("public /healthz = %d", c)
	}
	if c := status("http://" + addr + "/metrics"); c != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404 when --metrics-addr is set", c)
	}
	if c := status("http://" + metricsAddr + "/metrics"); c != 200 {
		t.Errorf("/metrics on the metrics listener = %d", c)
	}
	if c := status("http://" + metricsAddr + "/api/products"); c != http.StatusNotFound {
		t.Errorf("the metrics listener answers the API: %d", c)
	}
}
