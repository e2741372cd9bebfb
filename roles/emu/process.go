package emu

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/failpoint"
	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// result sorts a batch's items after one attempt.
type result struct {
	done      []*item // indexed, or nothing to do: ack
	poison    []*item // failed on their own: release, the queue counts receives
	poisonErr error
	retry     []*item // try again (after backoff if process returned an error)
	stored    bool    // the vector store took a write: it serves
	// wait are closed when the other batches embedding some of retry's
	// products are done: re-plan them then (embedClaims).
	wait []<-chan struct{}
}

type action int

const (
	actSkip action = iota
	actDelete
	actMeta
	actEmbed
)

// plan is what one item needs.
type plan struct {
	it     *item
	act    action
	row    product.Product
	hash   string
	values []float32
	// version is what index_state records once the write is done.
	version int64
}

// process runs one attempt over items. A returned error means the attempt
// failed as a whole (res.retry holds the items): an outage to back off from,
// or a splitError.
func (t *target) process(ctx context.Context, items []*item) (result, error) {
	e := t.e
	// Claimed before the index is read, so that what it reads is not
	// outdated by another batch of this process meanwhile.
	items, busy, wait, release := e.claims.take(t.name, items)
	defer release()
	res := result{retry: busy, wait: wait}
	ids := make([]int64, len(items))
	live := false
	for i, it := range items {
		ids[i] = it.id
		live = live || len(it.changes) > 0
	}
	// A batch with a live change times its steps for
	// refarch_emu_live_stage_seconds.
	step := func(string) {}
	if live {
		last := time.Now()
		step = func(name string) {
			now := time.Now()
			e.m.liveStages.WithLabelValues(name).Observe(now.Sub(last).Seconds())
			last = now
		}
	}
	rows, states, err := t.load(ctx, ids)
	step("worker_read")
	if err != nil {
		e.m.failures.WithLabelValues("read").Inc()
		res.retry = append(res.retry, items...)
		return res, err
	}
	var plans []*plan
	for _, it := range items {
		p := &plan{it: it}
		row, exists := rows[it.id]
		st, hasState := states[it.id]
		switch {
		case !exists:
			if hasState && st.Deleted && st.Version >= it.version {
				p.act = actSkip
			} else {
				p.act = actDelete
				p.version = it.version
			}
		case hasState && !st.Deleted && row.Version <= st.Version:
			p.act = actSkip
		default:
			p.row, p.version = row, row.Version
			p.hash = product.ContentHash(row.EmbedText())
			if hasState && !st.Deleted && st.Hash == p.hash {
				p.act = actMeta
			} else {
				p.act = actEmbed
			}
		}
		if p.act == actSkip {
			e.m.skipped.Inc()
			res.done = append(res.done, it)
			continue
		}
		plans = append(plans, p)
	}

	plans, poison, later, laterErr, err := t.embed(ctx, plans)
	step("worker_embed")
	if err != nil {
		e.m.failures.WithLabelValues("embed").Inc()
		res.retry = append(res.retry, itemsOf(plans)...)
		return res, err
	}
	if len(poison) > 0 {
		res.poison, res.poisonErr = itemsOf(poison), errors.New("the embedder fails on this product's text")
	}
	// Texts that failed alone with a transient error are retried after a
	// backoff, with the error; the rest of the batch is written now.
	res.retry = append(res.retry, itemsOf(later)...)
	if len(plans) == 0 {
		return res, laterErr
	}
	written, conflicts, stored, err := t.write(ctx, plans)
	step("worker_write")
	if err != nil {
		e.m.failures.WithLabelValues("write").Inc()
		res.retry = append(res.retry, itemsOf(plans)...)
		return res, err
	}
	res.stored = stored
	res.done = append(res.done, itemsOf(written)...)
	res.retry = append(res.retry, itemsOf(conflicts)...)
	now := time.Now()
	for _, p := range written {
		switch p.act {
		case actDelete:
			e.m.deleted.Inc()
		case actMeta:
			e.m.metaOnly.Inc()
		case actEmbed:
			e.m.embedded.Inc()
		}
		for _, c := range p.it.changes {
			e.m.freshness.Observe(now.Sub(c.at).Seconds())
			if !c.sent.IsZero() {
				e.m.liveStages.WithLabelValues("to_queue").Observe(c.sent.Sub(c.at).Seconds())
				e.m.liveStages.WithLabelValues("queued").Observe(p.it.handled.Sub(c.sent).Seconds())
			}
			e.m.liveStages.WithLabelValues("worker").Observe(now.Sub(p.it.handled).Seconds())
		}
	}
	return res, laterErr
}

func itemsOf(plans []*plan) []*item {
	out := make([]*item, len(plans))
	for i, p := range plans {
		out[i] = p.it
	}
	return out
}

// load reads the current rows and index state of the products.
func (t *target) load(ctx context.Context, ids []int64) (map[int64]product.Product, map[int64]indexstate.State, error) {
	e := t.e
	products, err := catalog.NewStore(e.pool).GetMany(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	states, err := indexstate.New(e.pool, t.name).Get(ctx, ids)
	return products, states, err
}

// embed fills in the vectors of the plans that need one, with one call for
// the batch. When that call fails, each text is tried alone, for at most the
// visibility timeout: texts that fail alone with a transient error (timeout,
// 429, 5xx, refused connection) or are not tried in time come back as later,
// with the error, to retry after a backoff; texts that fail alone otherwise
// while others (or a probe) succeed are poison. When everything fails and
// the probe too, the embedder is down: a wide componentError is returned.
func (t *target) embed(ctx context.Context, plans []*plan) (ok, poison, later []*plan, laterErr, err error) {
	e := t.e
	var need []*plan
	for _, p := range plans {
		if p.act == actEmbed {
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return plans, nil, nil, nil, nil
	}
	texts := make([]string, len(need))
	for i, p := range need {
		texts[i] = p.row.EmbedText()
	}
	vecs, err := t.embedCall(ctx, texts)
	if err == nil {
		e.healed(ctx, t.name, indexstate.ComponentEmbedder)
		for i, p := range need {
			p.values = vecs[i]
		}
		return plans, nil, nil, nil, nil
	}
	if ctx.Err() != nil {
		return plans, nil, nil, nil, ctx.Err()
	}
	batchErr := err
	bad, retry := map[*plan]bool{}, map[*plan]bool{}
	anyOK := false
	deadline := time.Now().Add(e.cfg.Visibility)
	for _, p := range need {
		if time.Now().After(deadline) {
			retry[p] = true
			laterErr = fmt.Errorf("embed %d texts one by one: out of time after %s: %w", len(need), e.cfg.Visibility, batchErr)
			continue
		}
		v, err := t.embedCall(ctx, []string{p.row.EmbedText()})
		if ctx.Err() != nil {
			return plans, nil, nil, nil, ctx.Err()
		}
		switch {
		case err == nil:
			p.values, anyOK = v[0], true
		case transientEmbedError(err):
			retry[p] = true
			laterErr = fmt.Errorf("embed product %d: %w", p.it.id, err)
		default:
			bad[p] = true
		}
	}
	if !anyOK {
		if _, err := t.embedCall(ctx, []string{"embedder health probe"}); err != nil {
			return plans, nil, nil, nil, componentError{t, indexstate.ComponentEmbedder, true,
				fmt.Errorf("embed %d texts: %w", len(texts), batchErr)}
		}
	}
	e.healed(ctx, t.name, indexstate.ComponentEmbedder)
	for _, p := range plans {
		switch {
		case bad[p]:
			poison = append(poison, p)
		case retry[p]:
			later = append(later, p)
		default:
			ok = append(ok, p)
		}
	}
	if len(poison) > 0 {
		e.log.WarnContext(ctx, "embedder rejects some products", "products", len(poison), "err", batchErr)
	}
	if len(later) > 0 {
		laterErr = componentError{t, indexstate.ComponentEmbedder, false, laterErr}
	}
	return ok, poison, later, laterErr, nil
}

// embedCall embeds texts once one of the Concurrency turns at the embedder
// is free.
func (t *target) embedCall(ctx context.Context, texts []string) ([][]float32, error) {
	e := t.e
	select {
	case e.embedding <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.embedding }()
	start := time.Now()
	vecs, err := t.emb.Embed(ctx, texts)
	e.m.embedSeconds.Observe(time.Since(start).Seconds())
	e.m.embedBatch.Observe(float64(len(texts)))
	if err == nil && len(vecs) != len(texts) {
		err = fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	return vecs, err
}

// write locks the products' index_state rows, re-checks them, writes the
// vector store and records the new state, all while holding the locks, so a
// slower worker with an older row can never overwrite a newer vector (G3).
// It runs to the end even when ctx is cancelled (bounded by the visibility
// timeout), so that a shutdown never abandons a vector write whose state is
// not recorded. Plans the index already holds (or holds newer) are dropped
// as done; plans made from an older version of a row whose text is the same
// are written as its current version; plans whose assumptions changed (the
// row was deleted or its text changed since it was read, or a metadata-only
// update whose text was re-embedded meanwhile) come back as conflicts to
// re-plan. So a write is always of the row's current version, which no
// earlier write can be newer than, even one whose record was lost.
func (t *target) write(ctx context.Context, plans []*plan) (written, conflicts []*plan, stored bool, err error) {
	e := t.e
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Visibility)
	defer cancel()
	start := time.Now()
	ids := make([]int64, len(plans))
	for i, p := range plans {
		ids[i] = p.it.id
	}
	err = pgx.BeginFunc(wctx, e.pool, func(tx pgx.Tx) error {
		written, conflicts, stored = nil, nil, false
		if t.guard {
			// A generation being dropped is written no more: its vectors
			// are about to be deleted.
			live, err := generations.WriteGuard(wctx, tx, t.name)
			if err != nil {
				return err
			}
			if !live {
				written = plans
				return nil
			}
		}
		states := indexstate.New(tx, t.name)
		locked, err := states.Lock(wctx, ids)
		if err != nil {
			return err
		}
		// Re-read the rows' versions under the lock: a plan made from an
		// older version of its row is brought up to date or made again.
		// A row read before it was deleted must not be written once the
		// delete has been indexed. And a row read before a newer version of
		// it must not be written as it was read: the store may hold that
		// newer version though index_state does not say so, when its writer
		// died (or its store call timed out) after the store applied it.
		current, err := t.recheck(wctx, tx, ids, plans)
		if err != nil {
			return err
		}
		var dels []string
		var metas []vectormeta.Metadata
		var vecs []vectorstore.Vector
		var keep []*plan
		var placeholders []int64
		for _, p := range plans {
			st := locked[p.it.id]
			row, exists := current[p.it.id]
			// Planned from an older version of its row: the same text is
			// written as the newer version, a changed one is planned again.
			textChanged := false
			if exists && p.act != actDelete && row.Version > p.version {
				if product.ContentHash(row.EmbedText()) == p.hash {
					p.row, p.version = row, row.Version
				} else {
					textChanged = true
				}
			}
			switch {
			case p.act == actDelete && st.Deleted && st.Version >= p.version:
				written = append(written, p) // someone else deleted it
				continue
			case p.act == actDelete:
				p.version = max(p.version, st.Version+1)
				dels = append(dels, vectormeta.VectorID(p.it.id))
			case st.Version >= p.version:
				written = append(written, p) // the index holds this or newer
				continue
			case !exists || textChanged || (p.act == actMeta && (st.Deleted || st.Hash != p.hash)):
				conflicts = append(conflicts, p)
				if st.Version == 0 {
					placeholders = append(placeholders, p.it.id)
				}
				continue
			case p.act == actMeta:
				metas = append(metas, t.meta(p))
			default:
				vecs = append(vecs, vectorstore.Vector{ID: vectormeta.VectorID(p.it.id), Values: p.values, Meta: t.meta(p)})
			}
			keep = append(keep, p)
		}
		if len(placeholders) > 0 {
			if err := states.DropPlaceholders(wctx, placeholders); err != nil {
				return err
			}
		}
		store := Store(t.store)
		if ts, ok := t.store.(TxStore); ok && ts.Pool() == e.pool {
			store = ts.InTx(tx)
		}
		if err := t.writeStore(wctx, store, dels, metas, vecs); err != nil {
			return err
		}
		stored = len(dels)+len(metas)+len(vecs) > 0
		if stored {
			failpoint.Hit(failpoint.EmuAfterStoreWrite)
		}
		if err := t.recordRecent(wctx, tx, keep, vecs); err != nil {
			return err
		}
		if len(keep) == 0 {
			return nil
		}
		recs := make([]indexstate.Record, len(keep))
		for i, p := range keep {
			recs[i] = indexstate.Record{ProductID: p.it.id, Version: p.version, Hash: p.hash, Deleted: p.act == actDelete,
				ChangedAt: p.row.UpdatedAt}
			if p.act == actDelete {
				recs[i].ChangedAt = time.Now()
			}
		}
		if err := states.Write(wctx, recs); err != nil {
			return err
		}
		written = append(written, keep...)
		return nil
	})
	e.m.writeSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, nil, false, err
	}
	if stored {
		e.healed(ctx, t.name, indexstate.ComponentVectorStore)
	}
	return written, conflicts, stored, nil
}

// recheck reads, in tx, the rows of the plans (ids) that still exist: only
// their versions, and the whole row of those that changed since they were
// planned.
func (t *target) recheck(ctx context.Context, tx pgx.Tx, ids []int64, plans []*plan) (map[int64]product.Product, error) {
	planned := make(map[int64]int64, len(plans))
	for _, p := range plans {
		planned[p.it.id] = p.version
	}
	rows, err := tx.Query(ctx, `SELECT id, version FROM products WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("recheck products: %w", err)
	}
	current := make(map[int64]product.Product, len(ids))
	var changed []int64
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("recheck products: %w", err)
		}
		current[id] = product.Product{ID: id, Version: v}
		if v > planned[id] {
			changed = append(changed, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recheck products: %w", err)
	}
	if len(changed) == 0 {
		return current, nil
	}
	newer, err := catalog.GetMany(ctx, tx, changed)
	if err != nil {
		return nil, fmt.Errorf("recheck products: %w", err)
	}
	for _, id := range changed {
		if p, ok := newer[id]; ok {
			current[id] = p
		} else {
			delete(current, id) // deleted meanwhile
		}
	}
	return current, nil
}

func (t *target) meta(p *plan) vectormeta.Metadata {
	return vectormeta.Metadata{ProductID: p.it.id, Version: p.version, ContentHash: p.hash, Model: t.name,
		Category: p.row.Category, Price: p.row.Price.Float()}
}

// recordRecent keeps the vectors of changes and repairs just written as
// recent, for search's exact scan, and forgets deleted products, in the
// transaction that records their index state: search finds a changed
// product by its new vector exactly when status says it is indexed.
//
// A catch-up's writes (a bootstrap, a bulk load, a new generation's
// backfill) are not recorded: at a bulk load's rate the 1,000 kept would be
// replaced several times a second, and recording them cost more database
// time than writing the vectors themselves (issue 12). A catch-up write of a
// product that has a recent copy replaces that copy, though, so that search
// never ranks a product by a version older than the index holds.
func (t *target) recordRecent(ctx context.Context, tx pgx.Tx, keep []*plan, vecs []vectorstore.Vector) error {
	var gone []int64
	recent := make(map[int64]bool, len(keep))
	for _, p := range keep {
		if p.act == actDelete {
			gone = append(gone, p.it.id)
		}
		recent[p.it.id] = p.it.recent
	}
	if err := recentvectors.Forget(ctx, tx, t.name, gone); err != nil {
		return err
	}
	var record []vectorstore.Vector
	var backfill []int64
	for _, v := range vecs {
		if recent[v.Meta.ProductID] {
			record = append(record, v)
		} else {
			backfill = append(backfill, v.Meta.ProductID)
		}
	}
	if len(backfill) > 0 && !t.e.cfg.RecentWrites.Disabled() {
		held, err := recentvectors.Held(ctx, tx, t.name, backfill)
		if err != nil {
			return err
		}
		for _, v := range vecs {
			if held[v.Meta.ProductID] {
				record = append(record, v)
			}
		}
	}
	return recentvectors.Record(ctx, tx, t.name, record, t.e.cfg.RecentWrites)
}

// writeStore applies deletes, metadata updates and upserts. A transient
// error (rate limit, 5xx, timeout) or one about the whole store (its index
// missing, credentials refused) is returned as a componentError, to back off
// from while holding the messages; any other error may be about one product
// and is wrapped in splitError.
func (t *target) writeStore(ctx context.Context, store Store, dels []string, metas []vectormeta.Metadata, vecs []vectorstore.Vector) error {
	wrap := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return err
		case unavailableStoreError(err):
			return componentError{t, indexstate.ComponentVectorStore, true, err}
		case errors.Is(err, vectorstore.ErrTransient):
			return componentError{t, indexstate.ComponentVectorStore, false, err}
		}
		return splitError{t, err}
	}
	if err := store.Delete(ctx, dels); err != nil {
		return wrap(fmt.Errorf("delete %d vectors: %w", len(dels), err))
	}
	if err := store.UpdateMetadata(ctx, metas); err != nil {
		return wrap(fmt.Errorf("update metadata of %d vectors: %w", len(metas), err))
	}
	if err := store.Upsert(ctx, vecs); err != nil {
		return wrap(fmt.Errorf("upsert %d vectors: %w", len(vecs), err))
	}
	return nil
}
