package serve

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/web"
)

// Status is the pipeline's state as the status page shows it; app fills it
// from status.Get.
type Status struct {
	Products      int64
	Indexed       int64
	Stale         int64
	Missing       int64
	Failed        int64
	Outbox        int64
	QueueVisible  int64
	QueueInFlight int64
	QueueDead     int64
	// QueueLive and QueueBackfill split the queue's backlog (visible and in
	// flight) by lane.
	QueueLive, QueueBackfill int64
	// LagSeconds is the age of the oldest change not yet in the index.
	LagSeconds float64
	// IndexRate is the throughput: products written to the index per
	// second, over the last few seconds.
	IndexRate   float64
	Model       string
	VectorStore string
	// Outage describes a component emu cannot write through for any
	// product ("" when there is none), for the status page's banner.
	Outage string
	// SearchIndex is the vector search index's state; nil for stores
	// without one to build.
	SearchIndex *vectorstore.IndexProgress
	// Generations are the index generations with their progress.
	Generations []status.Generation
}

// StatusFunc reads the current status.
type StatusFunc func(ctx context.Context) (Status, error)

// Sampling of the status page's chart: one sample every few seconds, the
// last ten minutes kept in memory (a restart clears it, which is fine for
// a glance at recent throughput and lag).
const (
	sampleEvery = 5 * time.Second
	sampleKeep  = 120
)

// sampler keeps a ring of recent status samples for the chart.
type sampler struct {
	mu      sync.Mutex
	samples []web.Sample
}

func (sm *sampler) add(now time.Time, st Status) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.samples = append(sm.samples, web.Sample{At: now, Rate: st.IndexRate, Lag: st.LagSeconds})
	if len(sm.samples) > sampleKeep {
		sm.samples = append(sm.samples[:0], sm.samples[len(sm.samples)-sampleKeep:]...)
	}
}

func (sm *sampler) snapshot() []web.Sample {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return append([]web.Sample(nil), sm.samples...)
}

// statusGauges export the sampled status on /metrics (each sample costs a
// few milliseconds whatever the catalog's size: see status.Get).
type statusGauges struct {
	products, outbox, lag prometheus.Gauge
	index                 *prometheus.GaugeVec
}

func newStatusGauges(reg *prometheus.Registry) statusGauges {
	f := promauto.With(reg)
	return statusGauges{
		products: f.NewGauge(prometheus.GaugeOpts{Name: "refarch_catalog_products", Help: "Rows in the products table."}),
		outbox:   f.NewGauge(prometheus.GaugeOpts{Name: "refarch_outbox_changes", Help: "Changes in the outbox not yet sent to the queue."}),
		lag: f.NewGauge(prometheus.GaugeOpts{Name: "refarch_index_lag_seconds",
			Help: "Age of the oldest change the index does not reflect yet (0 when in sync)."}),
		index: f.NewGaugeVec(prometheus.GaugeOpts{Name: "refarch_index_products",
			Help: "Products by index state: indexed (current version searchable), stale, missing, failed."}, []string{"state"}),
	}
}

func (g statusGauges) set(st Status) {
	g.products.Set(float64(st.Products))
	g.outbox.Set(float64(st.Outbox))
	g.lag.Set(st.LagSeconds)
	g.index.WithLabelValues("indexed").Set(float64(st.Indexed))
	g.index.WithLabelValues("stale").Set(float64(st.Stale))
	g.index.WithLabelValues("missing").Set(float64(st.Missing))
	g.index.WithLabelValues("failed").Set(float64(st.Failed))
}

// sample runs until ctx is done.
func (s *Server) sample(ctx context.Context) {
	if s.deps.Status == nil {
		return
	}
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, sampleEvery)
		st, err := s.deps.Status(qctx)
		cancel()
		switch {
		case err == nil:
			s.samples.add(time.Now(), st)
			s.gauges.set(st)
		case errors.Is(err, status.ErrCounting):
			// Seconds, once per new index; the page says so.
		case ctx.Err() == nil:
			s.deps.Log.WarnContext(ctx, "sample status", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	s.renderStatus(w, r, http.StatusOK, doneNotice(r.URL.Query()), "")
}

// renderStatus draws the status page (its body alone for htmx's refresh)
// with a notice of the last action, or the reason it was refused.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, code int, notice, actionErr string) {
	sess := s.session(w, r)
	view := web.StatusView{Samples: s.samples.snapshot(), Admin: s.indexAdminView(r, sess), Notice: notice, ActionError: actionErr}
	if s.deps.Status == nil {
		view.Error = "The pipeline status is not available in this process."
	} else {
		st, err := s.deps.Status(r.Context())
		switch {
		case errors.Is(err, status.ErrCounting):
			view.Error = "Counting the catalog for a new index's status (one scan of the table, seconds at a million products); the figures appear when it is done."
		case err != nil:
			s.deps.Log.ErrorContext(r.Context(), "read status", "err", err)
			view.Error = "Could not read the status right now; retrying on reload."
		default:
			view.Stats = []web.Stat{
				{Label: "Products", Value: st.Products, Explain: "Rows in the catalog."},
				{Label: "Indexed", Value: st.Indexed, Explain: "Products whose latest version is searchable."},
				{Label: "Stale", Value: st.Stale, Warn: st.Stale > 0, Explain: "Searchable, but an older version: an edit is on its way."},
				{Label: "Not yet indexed", Value: st.Missing, Explain: "New products not searchable yet."},
				{Label: "Failed", Value: st.Failed, Warn: st.Failed > 0, Explain: "Products whose indexing failed; they are retried after an edit or a reconcile."},
				{Label: "Waiting to be queued", Value: st.Outbox, Explain: "Changes recorded in Postgres (the outbox) that pelican has not queued yet."},
				{Label: "Queued", Value: st.QueueVisible, Explain: "Messages waiting in the queue for emu."},
				{Label: "Being indexed", Value: st.QueueInFlight, Explain: "Messages emu is working on right now."},
				{Label: "Live changes queued", Value: st.QueueLive, Explain: "Edits waiting or being indexed; emu takes them before any backfill."},
				{Label: "Backfill queued", Value: st.QueueBackfill, Explain: "Catch-up and repair messages waiting or being indexed (a bootstrap's backlog)."},
				{Label: "Gave up (dead letters)", Value: st.QueueDead, Warn: st.QueueDead > 0, Explain: "Messages that failed too often; see refarch dlq."},
			}
			view.UpdatedAt = time.Now()
			view.LagSeconds = st.LagSeconds
			view.Model = st.Model
			view.VectorStore = st.VectorStore
			view.Outage = st.Outage
			if si := st.SearchIndex; si != nil {
				view.SearchIndex = &web.SearchIndex{State: si.State, Phase: si.Phase, Done: si.Done, Total: si.Total,
					Percent: si.Percent(), ETASeconds: si.ETASeconds}
			}
			for _, g := range st.Generations {
				view.Generations = append(view.Generations, web.Generation{Name: g.Name, Model: g.Model, Dims: g.Dims,
					Store: g.Store, State: g.State, Indexed: g.Indexed, Total: g.Total, Percent: g.Percent(),
					Rate: g.RatePerSecond, ETASeconds: g.ETASeconds})
			}
		}
	}
	if isHTMX(r) {
		s.render(w, r, code, web.StatusBody(view))
		return
	}
	s.render(w, r, code, web.StatusPage(sess, view))
}
