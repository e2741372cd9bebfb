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
	// sampleTimeout bounds one reading. A reading costs more while the
	// index changes fast (a bootstrap: it recomputes the changes not
	// folded yet); a slow one is late, not lost.
	sampleTimeout = 30 * time.Second
	// statusMaxAge is how old the last reading may be for the status page
	// to show it (with its time) while a new one is slow: the page
	// refreshes every sampleEvery.
	statusMaxAge = 2 * sampleEvery
	// statusWait is how long a view of the status page waits for a new
	// reading before it shows the last one.
	statusWait = 50 * time.Millisecond
)

// sampler keeps a ring of recent status samples for the chart, and the
// last status read (by the sampler or a page) for the page.
type sampler struct {
	mu      sync.Mutex
	samples []web.Sample
	last    Status
	lastAt  time.Time
}

// keep records st, read at now, as the last status (startRead keeps every
// reading; they run one at a time, so each is the newest).
func (sm *sampler) keep(now time.Time, st Status) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.last, sm.lastAt = st, now
}

// latest returns the last status read, if it is younger than maxAge.
func (sm *sampler) latest(now time.Time, maxAge time.Duration) (Status, time.Time, bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.lastAt.IsZero() || now.Sub(sm.lastAt) > maxAge {
		return Status{}, time.Time{}, false
	}
	return sm.last, sm.lastAt, true
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
		// The page's views share this reading, and it theirs.
		rd := s.startRead(ctx)
		select {
		case <-ctx.Done():
			return
		case <-rd.done:
		}
		st, err := rd.st, rd.err
		switch {
		case err == nil:
			s.samples.add(rd.at, st)
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

// statusRead is one status reading in flight, which every view waiting
// for it shares.
type statusRead struct {
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	st      Status
	at      time.Time
	err     error
}

// readStatus reads the status, one reading at a time (views during a
// reading share it; a fresh view takes one begun after it). Unless fresh,
// it waits for the reading up to statusWait and then takes the last
// reading instead, if one is younger than statusMaxAge (with its time):
// while the index changes fast a reading takes seconds (it recomputes the
// changes not folded yet), and the page answers at once meanwhile; the
// reading goes on and serves the next views.
func (s *Server) readStatus(ctx context.Context, fresh bool) (Status, time.Time, error) {
	begin := time.Now()
	rd := s.startRead(ctx)
	if fresh && rd.started.Before(begin) {
		// A reading that began before this view may miss the action
		// it shows: wait for it, then take one of our own.
		select {
		case <-rd.done:
		case <-ctx.Done():
			return Status{}, time.Time{}, ctx.Err()
		}
		rd = s.startRead(ctx)
	}
	if !fresh {
		select {
		case <-rd.done:
			return rd.st, rd.at, rd.err
		case <-time.After(statusWait):
		}
		if st, at, ok := s.samples.latest(time.Now(), statusMaxAge); ok {
			return st, at, nil
		}
	}
	select {
	case <-rd.done:
		return rd.st, rd.at, rd.err
	case <-ctx.Done():
		return Status{}, time.Time{}, ctx.Err()
	}
}

// startRead returns the reading in flight, starting one if there is none.
// The reading keeps ctx's values but not its cancellation (it serves the
// views after this one): it ends after sampleTimeout, or when Serve
// returns (stopReads).
func (s *Server) startRead(ctx context.Context) *statusRead {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.reading != nil {
		return s.reading
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sampleTimeout)
	rd := &statusRead{started: time.Now(), cancel: cancel, done: make(chan struct{})}
	s.reading = rd
	s.reads.Go(func() {
		defer cancel()
		rd.st, rd.err = s.deps.Status(rctx)
		rd.at = time.Now()
		if rd.err == nil {
			s.samples.keep(rd.at, rd.st)
		}
		s.readMu.Lock()
		s.reading = nil
		s.readMu.Unlock()
		close(rd.done)
	})
	return rd
}

// stopReads cancels the reading in flight and waits for it.
func (s *Server) stopReads() {
	s.readMu.Lock()
	if s.reading != nil {
		s.reading.cancel()
	}
	s.readMu.Unlock()
	s.reads.Wait()
}

// renderStatus draws the status page (its body alone for htmx's refresh)
// with a notice of the last action, or the reason it was refused.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, code int, notice, actionErr string) {
	sess := s.session(w, r)
	view := web.StatusView{Samples: s.samples.snapshot(), Admin: s.indexAdminView(r, sess), Notice: notice, ActionError: actionErr}
	if s.deps.Status == nil {
		view.Error = "The pipeline status is not available in this process."
	} else {
		// After an action the page shows its effect: a new reading.
		st, at, err := s.readStatus(r.Context(), notice != "" || actionErr != "")
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
			view.UpdatedAt = at
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
