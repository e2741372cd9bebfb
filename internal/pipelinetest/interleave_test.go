package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// gateEmbedder blocks the first call with a text containing word until
// open is closed, after signalling paused: a worker held between reading
// the row and writing the index.
type gateEmbedder struct {
	embedding.Embedder
	word         string
	paused, open chan struct{}
}

func (g *gateEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for _, t := range texts {
		if strings.Contains(t, g.word) {
			select {
			case g.paused <- struct{}{}:
				<-g.open
			default:
			}
		}
	}
	return g.Embedder.Embed(ctx, texts)
}

// delivery is a message as a worker receives it, without a queue: the
// interleavings below drive two workers' Handle directly.
func delivery(t *testing.T, op queuemsg.Op, id, version int64) []queue.Message {
	t.Helper()
	m := queuemsg.Message{Op: op, Source: queuemsg.SourceOutbox, ProductID: id, Version: version, ChangedAt: time.Now()}
	if op == queuemsg.OpUpsert {
		m.New = &product.Product{ID: id, Version: version}
	}
	b, err := queuemsg.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return []queue.Message{{ID: fmt.Sprint(id, "-", version), Receipt: "none", Body: b, ReceiveCount: 1}}
}

// Deterministic interleavings of two workers (G3, G4): worker A has read
// version 1 and is paused before writing when B indexes a newer change;
// A's late write must change nothing.
func TestInterleavings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		apply string // the change B indexes while A is paused
		op    queuemsg.Op
		// crash: B's store write is applied, then B dies before its
		// index_state transaction commits (the write's answer is lost, as in
		// a timeout or a SIGKILL): A's late write must still not take the
		// vector back, though index_state does not know of B's write. A
		// redelivery of B's message then completes it.
		crash bool
	}{
		{"newer update wins", `UPDATE products SET description = 'second text' WHERE id = $1`, queuemsg.OpUpsert, false},
		{"delete wins over a racing update", `DELETE FROM products WHERE id = $1`, queuemsg.OpDelete, false},
		{"newer update whose record was lost wins", `UPDATE products SET description = 'second text' WHERE id = $1`, queuemsg.OpUpsert, true},
		{"delete whose record was lost wins", `DELETE FROM products WHERE id = $1`, queuemsg.OpDelete, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t)
			mon := newMonitor(e.store)
			gate := &gateEmbedder{Embedder: e.emb, word: "first", paused: make(chan struct{}), open: make(chan struct{})}
			cfg := e.emuConfig()
			a := emu.New(e.pool, e.q, gate, mon, cfg, e.log, nil)
			bctx, crashB := context.WithCancel(ctx)
			defer crashB()
			bStore := emu.Store(mon)
			if tc.crash {
				bStore = &lostAnswerStore{monitorStore: mon, crash: crashB}
			}
			b := emu.New(e.pool, e.q, e.emb, bStore, cfg, e.log, nil)
			if err := indexstate.New(e.pool, e.model).Register(ctx, e.store.Name()); err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('I-1', 'Item', 'first text', 1) RETURNING id`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				a.Handle(ctx, delivery(t, queuemsg.OpUpsert, id, 1))
			}()
			select {
			case <-gate.paused:
			case <-time.After(30 * time.Second):
				t.Fatal("worker A never reached the embedder")
			}
			e.exec(ctx, tc.apply, id)
			b.Handle(bctx, delivery(t, tc.op, id, 2))
			close(gate.open)
			<-aDone
			if p := mon.problems(); len(p) > 0 {
				t.Fatalf("index went back: %v", p)
			}
			if tc.crash {
				// B's message comes back after its visibility timeout.
				emu.New(e.pool, e.q, e.emb, mon, cfg, e.log, nil).Handle(ctx, delivery(t, tc.op, id, 2))
			}

			st, err := indexstate.New(e.pool, e.model).Get(ctx, []int64{id})
			if err != nil {
				t.Fatal(err)
			}
			vecs, err := e.store.Fetch(ctx, []string{vectormeta.VectorID(id)})
			if err != nil {
				t.Fatal(err)
			}
			v, stored := vecs[vectormeta.VectorID(id)]
			switch tc.op {
			case queuemsg.OpUpsert:
				want := product.ContentHash(product.EmbedText("Item", "second text"))
				if st[id].Version != 2 || st[id].Hash != want || !stored || v.Meta.Version != 2 || v.Meta.ContentHash != want {
					t.Fatalf("after A's late write: state %+v, vector %v %+v; want version 2 of the second text", st[id], stored, v.Meta)
				}
			case queuemsg.OpDelete:
				if !st[id].Deleted || stored {
					t.Fatalf("after A's late write: state %+v, vector stored %v; want the delete", st[id], stored)
				}
			}
			if p := mon.problems(); len(p) > 0 {
				t.Fatalf("index went back: %v", p)
			}
		})
	}
}

// lostAnswerStore applies the first write and then fails it, as a call
// that timed out after the store applied it, and crashes its worker: the
// worker's index_state transaction rolls back.
type lostAnswerStore struct {
	*monitorStore
	crash context.CancelFunc
	done  atomic.Bool
}

func (l *lostAnswerStore) lose(err error) error {
	if err != nil || l.done.Swap(true) {
		return err
	}
	l.crash()
	return errors.New("write timed out (it was applied)")
}

func (l *lostAnswerStore) Upsert(ctx context.Context, vs []vectorstore.Vector) error {
	return l.lose(l.monitorStore.Upsert(ctx, vs))
}

func (l *lostAnswerStore) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return l.lose(l.monitorStore.Delete(ctx, ids))
}

// With the pgvector store in emu's own database, a batch's vectors are
// written in the transaction that records them in index_state: when that
// transaction fails after the store write, the store keeps nothing of it
// (before, the store held a vector that index_state did not know of).
func TestStoreWriteRollsBackWithItsRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if err := indexstate.New(e.pool, e.model).Register(ctx, e.store.Name()); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('R-1', 'Item', 'some text', 1) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// index_state refuses the record (not the lock's placeholder), after
	// the store write.
	e.exec(ctx, `CREATE FUNCTION refuse_record() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.version > 0 THEN RAISE EXCEPTION 'index_state refuses the record'; END IF; RETURN NEW; END $$`)
	e.exec(ctx, `CREATE TRIGGER refuse_record BEFORE INSERT OR UPDATE ON index_state FOR EACH ROW EXECUTE FUNCTION refuse_record()`)
	// The worker retries the failing write until it is stopped.
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	emu.New(e.pool, e.q, e.emb, e.store, e.emuConfig(), e.log, nil).Handle(hctx, delivery(t, queuemsg.OpUpsert, id, 1))
	vecs, err := e.store.Fetch(ctx, []string{vectormeta.VectorID(id)})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := vecs[vectormeta.VectorID(id)]; ok {
		t.Fatalf("the store holds %+v, whose index_state record was rolled back", v.Meta)
	}
}
