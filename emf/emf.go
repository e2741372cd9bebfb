// Package emf publishes a few of the process's own Prometheus metrics to CloudWatch in the
// Embedded Metric Format: one JSON line per interval on the container's output, which the awslogs
// driver already ships to CloudWatch Logs, where CloudWatch turns the line into metrics. It needs
// no sidecar (an ADOT collector would add a container, its memory and its image to every task) and
// no extra IAM permission; the cost is the custom metrics themselves.
package emf

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Config chooses what is published and where.
type Config struct {
	// Namespace is the CloudWatch namespace (refarch).
	Namespace string
	// Dimensions are fixed for the process, e.g. {"Service": "emu"}.
	Dimensions map[string]string
	// Families are the metric family names to publish; others are ignored, so each custom
	// metric's cost is a choice.
	Families []string
	// Interval between lines (default one minute, CloudWatch's standard resolution).
	Interval time.Duration
	// Out receives the lines (the process's stdout in a task).
	Out io.Writer
}

// Publisher writes Config.Families as EMF lines.
type Publisher struct {
	cfg    Config
	g      prometheus.Gatherer
	now    func() time.Time
	mu     sync.Mutex
	last   map[string]float64 // previous counter and histogram totals, for per-interval deltas
	counts map[string]uint64
}

// New builds a publisher reading g.
func New(cfg Config, g prometheus.Gatherer) *Publisher {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	return &Publisher{cfg: cfg, g: g, now: time.Now, last: map[string]float64{}, counts: map[string]uint64{}}
}

// Run publishes every interval until ctx is done, then once more so the last figures are kept.
func (p *Publisher) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return p.Publish()
		case <-t.C:
			if err := p.Publish(); err != nil {
				return err
			}
		}
	}
}

// Publish writes one line with the current figures: gauges as they are, counters as the increase
// since the last line, histograms as the mean and count of the observations since the last line.
// Each label set becomes its own metric name (refarch_queue_messages_visible).
func (p *Publisher) Publish() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	families, err := p.g.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics for EMF: %w", err)
	}
	values := map[string]float64{}
	units := map[string]string{}
	for _, mf := range families {
		if !slices.Contains(p.cfg.Families, mf.GetName()) {
			continue
		}
		unit := "None"
		if strings.HasSuffix(mf.GetName(), "_seconds") {
			unit = "Seconds"
		}
		for _, m := range mf.GetMetric() {
			name := metricName(mf.GetName(), m.GetLabel())
			switch mf.GetType() {
			case dto.MetricType_GAUGE:
				values[name], units[name] = m.GetGauge().GetValue(), unit
			case dto.MetricType_COUNTER:
				v := m.GetCounter().GetValue()
				values[name], units[name] = max(0, v-p.last[name]), "Count"
				p.last[name] = v
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				sum, count := h.GetSampleSum(), h.GetSampleCount()
				dSum, dCount := sum-p.last[name], count-p.counts[name]
				p.last[name], p.counts[name] = sum, count
				values[name+"_count"], units[name+"_count"] = float64(dCount), "Count"
				if dCount > 0 {
					values[name+"_avg"], units[name+"_avg"] = dSum/float64(dCount), unit
				}
			}
		}
	}
	if len(values) == 0 {
		return nil
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range values {
			if !yield(k) {
				return
			}
		}
	})
	dims := slices.Sorted(func(yield func(string) bool) {
		for k := range p.cfg.Dimensions {
			if !yield(k) {
				return
			}
		}
	})
	metrics := make([]map[string]string, 0, len(names))
	for _, n := range names {
		metrics = append(metrics, map[string]string{"Name": n, "Unit": units[n]})
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": p.now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace": p.cfg.Namespace, "Dimensions": [][]string{dims}, "Metrics": metrics,
			}},
		},
	}
	for k, v := range p.cfg.Dimensions {
		doc[k] = v
	}
	for k, v := range values {
		doc[k] = v
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode EMF line: %w", err)
	}
	if _, err := p.cfg.Out.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write EMF line: %w", err)
	}
	return nil
}

// metricName appends the label values to the family name, in label order.
func metricName(family string, labels []*dto.LabelPair) string {
	parts := []string{family}
	for _, l := range labels {
		parts = append(parts, l.GetValue())
	}
	return strings.Join(parts, "_")
}
