package pipelinetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/internal/cloudsim"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
)

// cloudConfigs are the settings the AWS deployment runs with (SQS: 10
// messages a call), with this harness's short timeouts.
func (e *env) cloudConfigs() (pelican.Config, emu.Config) {
	p := e.pelicanConfig()
	p.SendBatch, p.SendConcurrency = cloudsim.SQSMaxBatch, 8
	m := e.emuConfig()
	m.ReceiveBatch, m.ReceiveConcurrency = cloudsim.SQSMaxBatch, 4
	return p, m
}

// G2, G3, G4 with concurrency on, under the latency layer with random
// delays (a long tail: p50 2 ms, p99 40 ms) and a Pinecone upsert quota
// small enough to be hit: random inserts, edits and deletes while two
// pelicans send concurrently and two emus receive concurrently. Once writes
// stop the index equals the table, no vector went back to an older version
// and no deleted product came back, throttled upserts were backed off from
// (counted by quota) and nothing was dead-lettered.
func TestCloudLatencyConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	lat := cloudsim.Latency{P50: 2 * time.Millisecond, P99: 40 * time.Millisecond}
	q := cloudsim.NewQueue(e.q, cloudsim.SQSFIFO(true, lat), seed)
	prof := cloudsim.PineconeServerless(lat)
	prof.Upsert.Quota = cloudsim.Rate{PerSecond: 5, Burst: 2}
	mon := newMonitor(e.store)
	store := cloudsim.NewStore(mon, prof, seed+1)

	pcfg, ecfg := e.cloudConfigs()
	pcfg.BatchSize = 50
	e.startPelican(pcfg, q)
	e.startPelican(pcfg, q)
	reg := prometheus.NewRegistry()
	for i := range 2 {
		r := prometheus.WrapRegistererWith(prometheus.Labels{"emu": fmt.Sprint(i)}, reg)
		m := emu.New(e.pool, q, e.emb, store, ecfg, e.log, r)
		start(t, m.Run)
	}

	ids := e.insert(ctx, 300, "cloud")
	var idsMu sync.Mutex
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for range 400 {
				idsMu.Lock()
				id := ids[r.IntN(len(ids))]
				idsMu.Unlock()
				var err error
				switch x := r.IntN(100); {
				case x < 15:
					var nid int64
					err = e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price, category)
						VALUES ($1, 'Cloud item', $2, 1.00, 'cloud') RETURNING id`, fmt.Sprintf("CL-%d-%d", w, r.Int64()),
						fmt.Sprintf("made by writer %d", w)).Scan(&nid)
					if err == nil {
						idsMu.Lock()
						ids = append(ids, nid)
						idsMu.Unlock()
					}
				case x < 60:
					_, err = e.pool.Exec(ctx, `UPDATE products SET description = $2 WHERE id = $1`, id, fmt.Sprintf("text %d", r.IntN(1e6)))
				case x < 90:
					_, err = e.pool.Exec(ctx, `UPDATE products SET price = $2 WHERE id = $1`, id, float64(r.IntN(100000))/100)
				default:
					_, err = e.pool.Exec(ctx, `DELETE FROM products WHERE id = $1`, id)
				}
				if err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	e.converged(ctx, 90*time.Second)
	if v := mon.problems(); len(v) > 0 {
		t.Fatalf("%d stale or resurrected writes, first: %v", len(v), v[:min(5, len(v))])
	}
	if s := e.status(ctx); s.Queue.Dead != 0 {
		t.Errorf("%d messages were dead-lettered; a throttled upsert is not poison", s.Queue.Dead)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	throttled := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "refarch_emu_quota_throttled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "quota" && l.GetValue() == "pinecone upsert requests/s per namespace" {
					throttled += m.GetCounter().GetValue()
				}
			}
		}
	}
	if throttled == 0 {
		t.Fatal("no upsert was throttled: the test did not exercise the quota")
	}
	t.Logf("converged; %v upserts throttled and backed off from", throttled)
}
