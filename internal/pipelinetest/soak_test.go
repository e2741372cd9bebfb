package pipelinetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue/sqsqueue/sqstest"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectormeta"
)

// soakOps is the number of operations of TestSoak: SOAK_OPS (make soak sets
// 10,000), or a short run inside make test.
func soakOps(t *testing.T) int {
	if v := os.Getenv("SOAK_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SOAK_OPS=%q: want a positive number", v)
		}
		return n
	}
	return 300
}

// soakConverge bounds the wait for convergence once writes stop:
// SOAK_CONVERGE, default 15 minutes.
func soakConverge(t *testing.T) time.Duration {
	if v := os.Getenv("SOAK_CONVERGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK_CONVERGE=%q: %v", v, err)
		}
		return d
	}
	return 15 * time.Minute
}

const soakMaxReceives = 5 // refarch's default receive limit

// TestSoak runs real refarch processes (one pelican, two emus) while random
// inserts, updates and deletes hit the table, some by SQL with huge and
// unusual texts, and SIGKILLs a random role every few seconds. It then
// checks every product's indexed version, content hash and vector against
// the table and prints operations, kills, lost, stale, dead letters and
// seconds to converge; lost, stale and dead must be 0. With the Postgres
// queue and with SQS (moto).
func TestSoak(t *testing.T) {
	t.Parallel()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		e := newEnvReceives(t, soakMaxReceives)
		soak(t, e, nil, e.q)
	})
	t.Run("sqs", func(t *testing.T) {
		endpoint := sqstest.Endpoint(t)
		t.Parallel()
		e := newEnvReceives(t, soakMaxReceives)
		q := sqstest.New(t, endpoint, soakMaxReceives)
		url, dlq := q.URLs()
		// moto answers slowly under load: a longer visibility keeps the
		// heartbeat ahead of it, as production's 60 s does.
		soak(t, e, []string{"REFARCH_EMU_VISIBILITY=15s", "REFARCH_QUEUE=sqs", "REFARCH_SQS_QUEUE_URL=" + url, "REFARCH_SQS_DLQ_URL=" + dlq,
			"REFARCH_SQS_ENDPOINT=" + endpoint, "REFARCH_AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}, q)
	})
}

func soak(t *testing.T, e *env, queueEnv []string, q status.Depther) {
	ctx := context.Background()
	ops := soakOps(t)
	extra := append([]string{"REFARCH_QUEUE_MAX_RECEIVES=" + strconv.Itoa(soakMaxReceives)}, queueEnv...)

	// Roles, each restarted at once after a kill.
	roles := []string{"pelican", "emu", "emu"}
	var mu sync.Mutex
	procs := make([]*proc, len(roles))
	for i, r := range roles {
		procs[i] = e.startRole(t, r, extra...)
	}
	var kills atomic.Int64
	stopKills := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stopKills:
				return
			case <-time.After(time.Duration(1000+rand.IntN(2000)) * time.Millisecond):
			}
			i := rand.IntN(len(roles))
			mu.Lock()
			procs[i].cmd.Process.Kill()
			<-procs[i].done
			procs[i] = e.startRole(t, roles[i], extra...)
			mu.Unlock()
			kills.Add(1)
		}
	}()

	// Four writers, each with its own products, keep the database busy.
	const writers = 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { soakWrites(t, e, w, ops/writers+boolInt(w < ops%writers)) })
	}
	wg.Wait()
	close(stopKills)
	<-killerDone

	start := time.Now()
	deadline := start.Add(soakConverge(t))
	var s status.Status
	var why string
	for {
		var err error
		s, err = status.Get(ctx, e.pool, q, e.model)
		switch {
		case err != nil:
			why = "status: " + err.Error()
		case !s.InSync():
			why = fmt.Sprintf("status not in sync: %+v", s)
		case s.Queue.Visible != 0 || s.Queue.InFlight != 0:
			why = fmt.Sprintf("queue not empty: %+v", s.Queue)
		default:
			why = e.diff(ctx)
		}
		if why == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	converge := time.Since(start).Seconds()
	lost, stale := e.audit(ctx)
	fmt.Printf("soak %s: operations %d, kills %d, lost %d, stale %d, dead %d, seconds to converge %.1f\n",
		t.Name(), ops, kills.Load(), lost, stale, s.Queue.Dead, converge)
	if why != "" {
		t.Fatalf("not converged after %s: %s", soakConverge(t), why)
	}
	if s.Queue.Dead != 0 {
		if f, err := status.Failures(ctx, e.pool, e.model, 5); err == nil {
			t.Logf("dead letters, newest first: %+v", f)
		}
	}
	if lost != 0 || stale != 0 || s.Queue.Dead != 0 {
		t.Fatalf("lost %d, stale %d, dead %d (status %+v): %s", lost, stale, s.Queue.Dead, s, e.diff(ctx))
	}
}

// audit counts products not in the index at all (lost) and those indexed at
// another version or content, or indexed after their delete (stale),
// comparing the table with index_state and the vector store.
func (e *env) audit(ctx context.Context) (lost, stale int) {
	e.t.Helper()
	type rec struct {
		version int64
		hash    string
	}
	table := map[int64]rec{}
	rows, err := e.pool.Query(ctx, `SELECT id, name, description, version FROM products`)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var id, v int64
		var name, desc string
		if err := rows.Scan(&id, &name, &desc, &v); err != nil {
			e.t.Fatal(err)
		}
		table[id] = rec{v, product.ContentHash(product.EmbedText(name, desc))}
	}
	rows.Close()
	ids := make([]string, 0, len(table))
	for id := range table {
		ids = append(ids, vectormeta.VectorID(id))
	}
	vecs := map[string]bool{}
	for lo := 0; lo < len(ids); lo += 1000 {
		got, err := e.store.Fetch(ctx, ids[lo:min(len(ids), lo+1000)])
		if err != nil {
			e.t.Fatal(err)
		}
		for id, v := range got {
			pid, _ := vectormeta.ParseVectorID(id)
			vecs[id] = v.Meta.Version == table[pid].version && v.Meta.ContentHash == table[pid].hash
		}
	}
	for id := range table {
		ok, found := vecs[vectormeta.VectorID(id)]
		switch {
		case !found:
			lost++
		case !ok:
			stale++
		}
	}
	n, err := e.store.Count(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if extra := n - len(vecs); extra > 0 {
		stale += extra // vectors of deleted products
	}
	return lost, stale
}

// soakWrites runs ops random writes on writer w's own products.
func soakWrites(t *testing.T, e *env, w, ops int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
	var live []int64
	remove := func(i int) { live[i] = live[len(live)-1]; live = live[:len(live)-1] }
	for i := range ops {
		n := i*100 + w
		var err error
		switch r := rng.IntN(100); {
		case r < 40 || len(live) < 20:
			// Some rows are written as an operator's SQL might: a 300 KiB
			// description, characters SQS refuses.
			desc, repeat := fmt.Sprintf("soak product %d with some words %d", n, rng.IntN(1000)), 0
			switch rng.IntN(50) {
			case 0:
				repeat = 30000
			case 1:
				desc = "odd \uFFFF and \uFFFE and a tab\there"
			}
			var id int64
			if err = e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price, category)
				VALUES ($1, $2, $3 || repeat(' long words', $5), $4, 'soak') RETURNING id`,
				fmt.Sprintf("SOAK-%d", n), fmt.Sprintf("Soak %d", n), desc, rng.IntN(10000), repeat).Scan(&id); err != nil {
				break
			}
			live = append(live, id)
		case r < 80:
			id := live[rng.IntN(len(live))]
			if rng.IntN(2) == 0 {
				_, err = e.pool.Exec(ctx, `UPDATE products SET description = $2 WHERE id = $1`, id, fmt.Sprintf("edited %d %d", n, rng.IntN(1000)))
			} else {
				_, err = e.pool.Exec(ctx, `UPDATE products SET price = price + 1 WHERE id = $1`, id)
			}
		default:
			j := rng.IntN(len(live))
			_, err = e.pool.Exec(ctx, `DELETE FROM products WHERE id = $1`, live[j])
			remove(j)
		}
		if err != nil {
			t.Errorf("write %d: %v", n, err)
			return
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
