package emf

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/refarch/refarch/internal/testkit"
)

type line struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func decode(t *testing.T, raw string) (line, map[string]any) {
	t.Helper()
	var l line
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	json.Unmarshal([]byte(raw), &fields) // decoded above
	return l, fields
}

func TestPublishWritesEMF(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	depth := f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_queue_messages"}, []string{"state"})
	sent := f.NewCounter(prometheus.CounterOpts{Name: "refarch_pelican_messages_sent_total"})
	fresh := f.NewHistogram(prometheus.HistogramOpts{Name: "refarch_emu_freshness_seconds"})
	f.NewGauge(prometheus.GaugeOpts{Name: "refarch_not_chosen"}).Set(1)

	var out bytes.Buffer
	p := New(Config{Namespace: "refarch", Dimensions: map[string]string{"Service": "emu"}, Out: &out,
		Families: []string{"refarch_queue_messages", "refarch_pelican_messages_sent_total", "refarch_emu_freshness_seconds"}}, reg)
	p.now = func() time.Time { return time.UnixMilli(1_800_000_000_000) }

	depth.WithLabelValues("visible").Set(12)
	depth.WithLabelValues("dead").Set(1)
	sent.Add(10)
	fresh.Observe(2)
	fresh.Observe(4)
	if err := p.Publish(); err != nil {
		t.Fatal(err)
	}
	sent.Add(5)
	fresh.Observe(9)
	if err := p.Publish(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	l, fields := decode(t, lines[0])
	if l.AWS.Timestamp != 1_800_000_000_000 || len(l.AWS.CloudWatchMetrics) != 1 || l.AWS.CloudWatchMetrics[0].Namespace != "refarch" ||
		len(l.AWS.CloudWatchMetrics[0].Dimensions) != 1 || strings.Join(l.AWS.CloudWatchMetrics[0].Dimensions[0], ",") != "Service" || fields["Service"] != "emu" {
		t.Errorf("EMF metadata: %s", lines[0])
	}
	declared := map[string]string{}
	for _, m := range l.AWS.CloudWatchMetrics[0].Metrics {
		declared[m.Name] = m.Unit
		if _, ok := fields[m.Name]; !ok {
			t.Errorf("metric %s is declared but has no value", m.Name)
		}
	}
	want := map[string]float64{
		"refarch_queue_messages_visible": 12, "refarch_queue_messages_dead": 1,
		"refarch_pelican_messages_sent_total": 10,
		"refarch_emu_freshness_seconds_avg":   3, "refarch_emu_freshness_seconds_count": 2,
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("first line %s = %v, want %v", k, fields[k], v)
		}
	}
	if declared["refarch_emu_freshness_seconds_avg"] != "Seconds" || declared["refarch_pelican_messages_sent_total"] != "Count" {
		t.Errorf("units %v", declared)
	}
	if _, ok := fields["refarch_not_chosen"]; ok {
		t.Error("a family not chosen was published")
	}
	_, second := decode(t, lines[1])
	for k, v := range map[string]float64{"refarch_pelican_messages_sent_total": 5, "refarch_emu_freshness_seconds_avg": 9, "refarch_emu_freshness_seconds_count": 1, "refarch_queue_messages_visible": 12} {
		if second[k] != v {
			t.Errorf("second line %s = %v, want %v (counters and histograms per interval)", k, second[k], v)
		}
	}
}

func TestRunPublishesUntilCancelled(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	promauto.With(reg).NewGauge(prometheus.GaugeOpts{Name: "g"}).Set(1)
	var out syncBuffer
	p := New(Config{Namespace: "n", Families: []string{"g"}, Interval: time.Millisecond, Out: &out}, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testkit.WaitFor(t, 10*time.Second, func() string {
		if strings.Count(out.String(), "\n") < 2 {
			return "fewer than two EMF lines"
		}
		return ""
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
