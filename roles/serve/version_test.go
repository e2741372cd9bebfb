package serve_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/internal/buildinfo"
	"github.com/refarch/refarch/roles/serve"
)

// Every role answers GET /version, so a release can ask any task which image it runs.
func TestVersionAnswersTheBuildAndDigest(t *testing.T) {
	t.Parallel()
	build := buildinfo.Info{Version: "v1.2.3", Commit: "abc", BuildTime: "2026-11-30T20:00:00Z", ImageDigest: "sha256:feed"}
	deps := serve.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), Build: build}
	for name, h := range map[string]*serve.Server{"serve": serve.New(serve.Config{}, deps), "ops": serve.NewOps("", "", deps)} {
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/version", nil))
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil {
			t.Fatalf("%s: GET /version = %d %s (%v)", name, rec.Code, rec.Body, err)
		}
		want := map[string]string{"version": "v1.2.3", "commit": "abc", "build_time": "2026-11-30T20:00:00Z", "image_digest": "sha256:feed"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: /version %s = %q, want %q (body %s)", name, k, got[k], v, rec.Body)
			}
		}
	}
}
