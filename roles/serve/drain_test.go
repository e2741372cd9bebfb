package serve_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/roles/serve"
)

// After the context is cancelled (SIGTERM) the server keeps answering for
// DrainDelay with /readyz at 503, so that a load balancer stops sending
// traffic before the listener closes.
func TestReadyzAnswers503WhileDraining(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := serve.NewOps(serve.Config{DrainDelay: 2 * time.Second}, serve.Deps{
		Log:      slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Ready:    func(context.Context) error { return nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/readyz"
	get := func() int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("before SIGTERM /readyz = %d, want 200", code)
	}
	cancel()
	testkit.WaitFor(t, time.Second, func() string {
		if get() != http.StatusServiceUnavailable {
			return "/readyz does not answer 503 while draining"
		}
		return ""
	})
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("the listener is still open after Serve returned")
	}
}
