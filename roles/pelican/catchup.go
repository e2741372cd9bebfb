package pelican

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/internal/failpoint"
	"github.com/refarch/refarch/queuemsg"
)

// catchup is one index's catch-up: model keys its index state and passes;
// gen, when set, is written into every message so that emu writes only
// that generation (a new generation's backfill).
type catchup struct{ model, gen string }

// catchupLoop runs the catch-up until this replica finds no chunk left to
// claim, retrying failures with backoff.
func (p *Pelican) catchupLoop(ctx context.Context, c catchup) {
	start := time.Now()
	total, failures := 0, 0
	for {
		pass, err := p.openPass(ctx, c.model)
		if err == nil {
			var n int
			n, err = p.catchupWorkers(ctx, c, pass)
			total += n
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			p.log.InfoContext(ctx, "catch-up done", "generation", c.model, "sent", total, "took", time.Since(start).Round(time.Millisecond))
			return
		}
		p.m.errors.Inc()
		failures++
		p.log.ErrorContext(ctx, "catch-up", "generation", c.model, "err", err, "attempt", failures)
		if !backoff.Sleep(ctx, backoff.Delay(failures, p.cfg.MinBackoff, p.cfg.MaxBackoff)) {
			return
		}
	}
}

// openPass joins the model's open catch-up pass or starts a new one,
// splitting every known product id (in the table or in the index) into
// chunks of BatchSize ids.
func (p *Pelican) openPass(ctx context.Context, model string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM catchup_passes WHERE model = $1 AND finished_at IS NULL`, model).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find open catch-up pass: %w", err)
		}
		// Replicas starting together race here; the partial unique index
		// lets one win and the others join its pass.
		err = tx.QueryRow(ctx, `INSERT INTO catchup_passes (model) VALUES ($1)
			ON CONFLICT (model) WHERE finished_at IS NULL DO NOTHING RETURNING id`, model).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return tx.QueryRow(ctx, `SELECT id FROM catchup_passes WHERE model = $1 AND finished_at IS NULL`, model).Scan(&id)
		}
		if err != nil {
			return fmt.Errorf("start catch-up pass: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM catchup_passes WHERE model = $1 AND id <> $2`, model, id); err != nil {
			return fmt.Errorf("forget old catch-up passes: %w", err)
		}
		// Chunks tile the id space up to the largest known id; later ids
		// come with outbox rows.
		chunks, err := indexstate.New(tx, model).Chunks(ctx, p.cfg.BatchSize)
		if err != nil {
			return err
		}
		los, his := make([]int64, len(chunks)), make([]int64, len(chunks))
		for i, c := range chunks {
			los[i], his[i] = c.Lo, c.Hi
		}
		if _, err := tx.Exec(ctx, `INSERT INTO catchup_chunks (pass_id, lo, hi)
			SELECT $1, lo, hi FROM unnest($2::bigint[], $3::bigint[]) AS c(lo, hi)`, id, los, his); err != nil {
			return fmt.Errorf("split catch-up pass into chunks: %w", err)
		}
		p.log.InfoContext(ctx, "catch-up pass started", "generation", model, "pass", id, "chunks", len(chunks))
		return nil
	})
	return id, err
}

// catchupWorkers runs CatchupWorkers catchupPass loops on the pass, so
// that one chunk's reads overlap another's sends, and returns how many
// messages they sent. They split the chunks as replicas do (SKIP LOCKED),
// and every product is in one chunk, so each product's order holds. One
// worker's failure does not cancel the others: a chunk already sent is
// marked done rather than sent again.
func (p *Pelican) catchupWorkers(ctx context.Context, c catchup, pass int64) (int, error) {
	var sent atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, p.cfg.CatchupWorkers)
	for i := range p.cfg.CatchupWorkers {
		wg.Go(func() {
			n, err := p.catchupPass(ctx, c, pass)
			sent.Add(int64(n))
			errs[i] = err
		})
	}
	wg.Wait()
	return int(sent.Load()), errors.Join(errs...)
}

// catchupPass sends chunks of the pass until none is left to claim, then
// closes the pass if every chunk is done. It returns how many messages it
// sent.
func (p *Pelican) catchupPass(ctx context.Context, c catchup, pass int64) (int, error) {
	total := 0
	for {
		n, err := p.catchupChunk(ctx, c, pass)
		if errors.Is(err, errNoChunk) {
			break
		}
		if err != nil {
			return total, err
		}
		total += n
	}
	var remaining int
	err := p.pool.QueryRow(ctx, `WITH remaining AS (SELECT count(*) AS n FROM catchup_chunks WHERE pass_id = $1 AND done_at IS NULL),
		closed AS (UPDATE catchup_passes SET finished_at = now() WHERE id = $1 AND finished_at IS NULL AND (SELECT n FROM remaining) = 0)
		SELECT n FROM remaining`, pass).Scan(&remaining)
	if err != nil {
		return total, fmt.Errorf("close catch-up pass %d: %w", pass, err)
	}
	p.m.catchupDue.Set(float64(remaining))
	return total, nil
}

// CatchupChunk claims one unsent chunk of the pass (skipping chunks other
// replicas hold), sends an upsert for every product in it whose indexed
// version is missing or behind and a delete for every indexed product that no
// longer exists, and marks the chunk done in the same transaction. It returns
// errNoChunk when nothing is left to claim.
func (p *Pelican) CatchupChunk(ctx context.Context, pass int64) (int, error) {
	return p.catchupChunk(ctx, catchup{model: p.cfg.Model}, pass)
}

func (p *Pelican) catchupChunk(ctx context.Context, c catchup, pass int64) (int, error) {
	sent := 0
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var lo, hi int64
		err := tx.QueryRow(ctx, `SELECT lo, hi FROM catchup_chunks WHERE pass_id = $1 AND done_at IS NULL
			ORDER BY lo LIMIT 1 FOR UPDATE SKIP LOCKED`, pass).Scan(&lo, &hi)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoChunk
		}
		if err != nil {
			return fmt.Errorf("claim catch-up chunk: %w", err)
		}
		now := time.Now()
		states := indexstate.New(tx, c.model)
		behind, err := states.Behind(ctx, lo, hi)
		if err != nil {
			return err
		}
		orphans, err := states.Orphans(ctx, lo, hi)
		if err != nil {
			return err
		}
		msgs := make([]queuemsg.Message, 0, len(behind)+len(orphans))
		for _, pr := range behind {
			msgs = append(msgs, queuemsg.Message{Op: queuemsg.OpUpsert, Source: queuemsg.SourceCatchup, ProductID: pr.ID,
				Version: pr.Version, ChangedAt: pr.UpdatedAt, New: &pr, Generation: c.gen})
		}
		for _, o := range orphans {
			// The deleted row's last version is unknown; one past the
			// indexed one orders the delete after what the index holds.
			msgs = append(msgs, queuemsg.Message{Op: queuemsg.OpDelete, Source: queuemsg.SourceCatchup,
				ProductID: o.ProductID, Version: o.Version + 1, ChangedAt: now, Generation: c.gen})
		}
		var rs []refused
		for start := 0; start < len(msgs); start += p.cfg.BatchSize {
			r, err := p.send(ctx, msgs[start:min(len(msgs), start+p.cfg.BatchSize)])
			if err != nil {
				return err
			}
			rs = append(rs, r...)
		}
		if err := p.isolate(ctx, tx, rs); err != nil {
			return err
		}
		sent = len(msgs) - len(rs)
		if sent > 0 {
			failpoint.Hit(failpoint.PelicanInCatchupChunk)
		}
		_, err = tx.Exec(ctx, `UPDATE catchup_chunks SET done_at = now(), sent = $3, done_by = $4 WHERE pass_id = $1 AND lo = $2`,
			pass, lo, sent, p.cfg.Name)
		if err != nil {
			return fmt.Errorf("mark catch-up chunk %d..%d done: %w", lo, hi, err)
		}
		return nil
	})
	return sent, err
}

// ForgetCatchup deletes the catch-up passes of model (an index generation
// being dropped).
func ForgetCatchup(ctx context.Context, pool *pgxpool.Pool, model string) error {
	if _, err := pool.Exec(ctx, `DELETE FROM catchup_passes WHERE model = $1`, model); err != nil {
		return fmt.Errorf("forget the catch-up passes of %s: %w", model, err)
	}
	return nil
}
