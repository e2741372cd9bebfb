package pipelinetest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
)

// metrics checks that each named counter (or histogram's sample count)
// reached at least its minimum.
func metrics(t *testing.T, reg *prometheus.Registry, atLeast map[string]float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				got[f.GetName()] += m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				got[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, min := range atLeast {
		if got[name] < min {
			t.Errorf("metric %s = %v, want at least %v", name, got[name], min)
		}
	}
}

// G1: edits made while pelican is down all reach the index once it starts,
// and a change whose NOTIFY is missed is still picked up by polling.
func TestG1EditsWhilePelicanDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	start(t, emu.New(e.pool, e.q, e.emb, e.store, e.emuConfig(), e.log, reg).Run)

	ids := e.insert(ctx, 300, "garden")
	e.exec(ctx, `UPDATE products SET description = description || ' revised' WHERE id = ANY($1)`, ids[:100])
	e.exec(ctx, `DELETE FROM products WHERE id = ANY($1)`, ids[100:150])
	if s := e.status(ctx); s.Outbox == 0 || s.Indexed != 0 {
		t.Fatalf("before pelican starts: %+v, want a full outbox and nothing indexed", s)
	}
	// Without the catch-up, only the outbox can carry these changes.
	cfg := e.pelicanConfig()
	cfg.SkipCatchup = true
	start(t, pelican.New(e.pool, e.q, cfg, e.log, reg).Run)
	e.converged(ctx, 60*time.Second)
	metrics(t, reg, map[string]float64{
		"refarch_pelican_messages_sent_total": 250, // 300 inserts less 50 deleted, collapsed per product
		"refarch_emu_products_deleted_total":  50,
		"refarch_emu_freshness_seconds":       250,
		"refarch_emu_embed_seconds":           1,
		"refarch_emu_upsert_seconds":          1,
		"refarch_emu_batch_size":              1,
		"refarch_emu_messages_acked_total":    250,
		"refarch_emu_products_embedded_total": 250,
		"refarch_emu_messages_received_total": 250,
	})

	// The listening connection dies: pelican reconnects with backoff and
	// keeps going.
	e.exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN refarch_outbox'`)
	waitFor(t, 30*time.Second, func() string {
		families, _ := reg.Gather()
		for _, f := range families {
			if f.GetName() == "refarch_pelican_listener_reconnects_total" && f.GetMetric()[0].GetCounter().GetValue() >= 1 {
				return ""
			}
		}
		return "listener not reconnected"
	})
	e.exec(ctx, `UPDATE products SET name = name || ' after reconnect' WHERE id = $1`, ids[201])
	e.converged(ctx, 30*time.Second)

	// A change committed with the notification suppressed: NOTIFY is only a
	// wake-up, polling must still find it.
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE products DISABLE TRIGGER products_after_write`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE products SET name = name || ' quiet' WHERE id = $1`, ids[200]); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sync_outbox (product_id, op, version, new_row)
		SELECT id, 'update', version, to_jsonb(p) FROM products p WHERE id = $1`, ids[200]); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE products ENABLE TRIGGER products_after_write`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.converged(ctx, 30*time.Second)
}
