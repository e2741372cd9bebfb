package cmd

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheckReady: the container health check asks /readyz with
// --ready, so a process that is alive but cannot open database connections
// fails it (and ECS replaces the task), while plain healthcheck still passes.
func TestHealthcheckReady(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	if out, err := run(t, "healthcheck", "--addr", addr); err != nil {
		t.Errorf("healthcheck of a live process: %v\n%s", err, out)
	}
	out, err := run(t, "healthcheck", "--ready", "--addr", addr)
	if err == nil || !strings.Contains(err.Error()+out, "503") {
		t.Errorf("healthcheck --ready of a process that is not ready = %v\n%s", err, out)
	}
}
