package quota_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/refarch/refarch/internal/quota"
)

// TestWatch: a quota error, however wrapped, is counted under its quota and
// logged once per interval with the quota's name; other errors are not.
func TestWatch(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w := quota.NewWatch("refarch_test_quota_throttled_total", slog.New(slog.NewTextHandler(&logs, nil)), reg)
	err := fmt.Errorf("send 10 messages: %w", &quota.Error{Quota: "sqs SendMessageBatch calls/s", Err: errors.New("ThrottlingException")})
	for range 3 {
		if !w.Note(context.Background(), err) {
			t.Fatal("a wrapped quota error was not recognised")
		}
	}
	if w.Note(context.Background(), errors.New("connection refused")) {
		t.Fatal("an outage was taken for a quota")
	}
	if got := testutil.ToFloat64(w.Counter().WithLabelValues("sqs SendMessageBatch calls/s")); got != 3 {
		t.Fatalf("counted %v throttles, want 3", got)
	}
	if n := strings.Count(logs.String(), `quota="sqs SendMessageBatch calls/s"`); n != 1 {
		t.Fatalf("logged the quota %d times within the interval, want once:\n%s", n, logs.String())
	}
}
