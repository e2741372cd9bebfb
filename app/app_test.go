package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
)

// testConfig is the default configuration on a fresh, migrated database,
// with the fast hash embedder and a free port.
func testConfig(t *testing.T) Config {
	t.Helper()
	var cfg Config
	cfg.Bind(pflag.NewFlagSet("test", pflag.ContinueOnError))
	cfg.DatabaseURL = pgtest.NewURL(t) // already migrated
	cfg.Embedder = "hash"
	cfg.PelicanPollInterval = 50 * time.Millisecond
	cfg.Addr = testkit.FreeAddr(t)
	return cfg
}

// start runs Run in the background and returns a func that stops it the
// way SIGTERM does and checks that it returned cleanly.
func start(t *testing.T, cfg Config, roles Roles) (stop func()) {
	t.Helper()
	// A failed test shows what the process warned of (a cancelled build,
	// a lost connection): CI keeps no other trace of it.
	log := &errorLog{warnings: true}
	t.Cleanup(func() {
		if s := log.String(); t.Failed() && s != "" {
			t.Logf("the process's warnings and errors:\n%s", s)
		}
	})
	return startLogging(t, cfg, roles, log)
}

// startLogging is start with the process's log written to w.
func startLogging(t *testing.T, cfg Config, roles Roles, w io.Writer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, roles, slog.New(slog.NewTextHandler(w, nil))) }()
	waitFor(t, "/healthz to answer", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned before serving: %v", err)
		default:
		}
		code, _ := get(cfg.Addr + "/healthz")
		return code == http.StatusOK
	})
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not stop within 30s of cancel")
		}
	}
}

func get(url string) (int, string) {
	resp, err := http.Get("http://" + url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, func() string {
		if ok() {
			return ""
		}
		return "waiting for " + what
	})
}

// TestRunAllInOneProcess is `refarch serve --all`: a product created through
// the API is found by search, so serve, pelican and emu run together on one
// embedder, queue and vector store, and the process stops cleanly.
func TestRunAllInOneProcess(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	stop := start(t, cfg, Roles{Serve: true, Pelican: true, Emu: true})
	defer stop()

	resp, err := http.Post("http://"+cfg.Addr+"/api/products", "application/json", strings.NewReader(
		`{"sku":"APP-1","name":"Copper kettle","description":"whistles when the water boils","price":"39.50","category":"Kitchen"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create product: %s", resp.Status)
	}
	waitFor(t, "the new product to be searchable", func() bool {
		code, body := get(cfg.Addr + "/api/search?q=copper+kettle")
		if code != http.StatusOK {
			return false
		}
		var res struct {
			Results []struct {
				SKU string `json:"sku"`
			} `json:"results"`
		}
		return json.Unmarshal([]byte(body), &res) == nil && len(res.Results) > 0 && res.Results[0].SKU == "APP-1"
	})
	_, metrics := get(cfg.Addr + "/metrics")
	for _, m := range []string{"refarch_http_request_duration_seconds", "refarch_pelican_batch_size", "refarch_emu_"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics of serve --all lacks %s", m)
		}
	}
}

// TestRunWorkerAnswersHealth: pelican or emu alone answers /healthz, /readyz
// and /metrics (for the container health check and scrapers) and nothing
// else.
func TestRunWorkerAnswersHealth(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		roles  Roles
		metric string
	}{
		{Roles{Pelican: true}, "refarch_pelican_batch_size"},
		{Roles{Emu: true}, "refarch_emu_"},
	} {
		cfg := testConfig(t)
		stop := start(t, cfg, c.roles)
		if code, body := get(cfg.Addr + "/readyz"); code != http.StatusOK {
			t.Errorf("%+v /readyz: %d %s", c.roles, code, body)
		}
		if _, body := get(cfg.Addr + "/metrics"); !strings.Contains(body, c.metric) {
			t.Errorf("%+v /metrics lacks %s", c.roles, c.metric)
		}
		if code, _ := get(cfg.Addr + "/api/products"); code != http.StatusNotFound {
			t.Errorf("%+v serves the product API (%d); only serve should", c.roles, code)
		}
		stop()
	}
}

// TestRunAddressInUse: a second process on a taken address fails at once
// and says what to do.
func TestRunAddressInUse(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = Run(ctx, cfg, Roles{Emu: true}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Fatalf("Run on a taken address: %v", err)
	}
}
