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

// catchupLoop runs the start-up catch-up of one index (the whole table)
// until this replica finds no chunk left to claim, then follows bulk loads:
// every range of products a large insert recorded in backfill_ranges
// becomes a pass of its own, sent on the backfill lane, until ctx ends.
// Failures are retried with backoff.
func (p *Pelican) catchupLoop(ctx context.Context, c catchup) {
	if !p.runPasses(ctx, c, true) {
		return
	}
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !p.runPasses(ctx, c, false) {
			return
		}
	}
}

// runPasses works catch-up passes until there is nothing left: with
// fullTable, until a pass over the whole table is done (after finishing an
// open pass of ranges it finds); without, until no bulk-load range is left
// to take. It returns false once ctx ends.
func (p *Pelican) runPasses(ctx context.Context, c catchup, fullTable bool) bool {
	start := time.Now()
	total, failures := 0, 0
	for {
		pass, full, err := p.openPass(ctx, c.model, fullTable)
		if err == nil && pass == 0 {
			return true // no range left to take
		}
		if err == nil {
			var n int
			n, err = p.catchupWorkers(ctx, c, pass)
			total += n
		}
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			failures = 0
			switch {
			case fullTable && !full:
				continue // that was a pass of ranges; now the whole table
			case fullTable:
				p.log.InfoContext(ctx, "catch-up done", "generation", c.model, "sent", total, "took", time.Since(start).Round(time.Millisecond))
				return true
			}
			p.log.InfoContext(ctx, "bulk-load backfill sent", "generation", c.model, "sent", total, "took", time.Since(start).Round(time.Millisecond))
			continue
		}
		p.m.errors.Inc()
		failures++
		p.log.ErrorContext(ctx, "catch-up", "generation", c.model, "err", err, "attempt", failures)
		if !backoff.Sleep(ctx, backoff.Delay(failures, p.cfg.MinBackoff, p.cfg.MaxBackoff)) {
			return false
		}
	}
}

// errNothingToTake rolls back a pass of ranges that found no range to take.
var errNothingToTake = errors.New("no bulk-load range to take")

// openPass joins the model's open catch-up pass or starts a new one and
// reports whether it compares the whole table. A pass over the whole table
// (fullTable) takes every bulk-load range committed so far, since it covers
// them, then splits every known product id (in the table, or in the index)
// into chunks of BatchSize ids. A pass of ranges takes the ranges no pass
// of the model took yet and splits them (merged where they overlap) into
// chunks; with none to take it returns pass 0.
func (p *Pelican) openPass(ctx context.Context, model string, fullTable bool) (int64, bool, error) {
	var id int64
	full := fullTable
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, full_table FROM catchup_passes WHERE model = $1 AND finished_at IS NULL`, model).Scan(&id, &full)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find open catch-up pass: %w", err)
		}
		if !fullTable {
			var any bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM backfill_ranges r WHERE NOT EXISTS (
				SELECT 1 FROM backfill_ranges_taken t WHERE t.model = $1 AND t.range_id = r.id))`, model).Scan(&any)
			if err != nil {
				return fmt.Errorf("look for bulk-load ranges: %w", err)
			}
			if !any {
				return errNothingToTake
			}
		}
		// Replicas starting together race here; the partial unique index
		// lets one win and the others join its pass.
		err = tx.QueryRow(ctx, `INSERT INTO catchup_passes (model, full_table) VALUES ($1, $2)
			ON CONFLICT (model) WHERE finished_at IS NULL DO NOTHING RETURNING id`, model, fullTable).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return tx.QueryRow(ctx, `SELECT id, full_table FROM catchup_passes WHERE model = $1 AND finished_at IS NULL`, model).Scan(&id, &full)
		}
		if err != nil {
			return fmt.Errorf("start catch-up pass: %w", err)
		}
		full = fullTable
		if _, err := tx.Exec(ctx, `DELETE FROM catchup_passes WHERE model = $1 AND id <> $2`, model, id); err != nil {
			return fmt.Errorf("forget old catch-up passes: %w", err)
		}
		// The ranges are taken before the chunks are read (each statement
		// sees its own snapshot), so that every range taken by a pass over
		// the whole table is inside its chunks.
		ranges, err := takeRanges(ctx, tx, model)
		if err != nil {
			return err
		}
		var chunks []indexstate.Chunk
		if fullTable {
			// Chunks tile the id space up to the largest known id; later
			// ids come with outbox rows or ranges of their own.
			if chunks, err = indexstate.New(tx, model).Chunks(ctx, p.cfg.BatchSize); err != nil {
				return err
			}
		} else {
			if len(ranges) == 0 {
				return errNothingToTake
			}
			chunks = tile(ranges, p.cfg.BatchSize)
		}
		los, his := make([]int64, len(chunks)), make([]int64, len(chunks))
		for i, c := range chunks {
			los[i], his[i] = c.Lo, c.Hi
		}
		if _, err := tx.Exec(ctx, `INSERT INTO catchup_chunks (pass_id, lo, hi)
			SELECT $1, lo, hi FROM unnest($2::bigint[], $3::bigint[]) AS c(lo, hi)`, id, los, his); err != nil {
			return fmt.Errorf("split catch-up pass into chunks: %w", err)
		}
		p.log.InfoContext(ctx, "catch-up pass started", "generation", model, "pass", id, "chunks", len(chunks),
			"whole_table", fullTable, "bulk_load_ranges", len(ranges))
		return nil
	})
	if errors.Is(err, errNothingToTake) {
		return 0, false, nil
	}
	return id, full, err
}

// takeRanges marks every bulk-load range no pass of model has taken as
// taken, in tx, and returns them by lo. A range committed meanwhile is left
// for the next pass, never lost: it is taken only once it is visible.
func takeRanges(ctx context.Context, tx pgx.Tx, model string) ([]indexstate.Chunk, error) {
	rows, err := tx.Query(ctx, `WITH taken AS (
			INSERT INTO backfill_ranges_taken (model, range_id)
			SELECT $1, r.id FROM backfill_ranges r
			WHERE NOT EXISTS (SELECT 1 FROM backfill_ranges_taken t WHERE t.model = $1 AND t.range_id = r.id)
			ORDER BY r.id
			ON CONFLICT DO NOTHING
			RETURNING range_id)
		SELECT r.lo, r.hi FROM backfill_ranges r JOIN taken t ON t.range_id = r.id ORDER BY r.lo`, model)
	if err != nil {
		return nil, fmt.Errorf("take bulk-load ranges: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (indexstate.Chunk, error) {
		var c indexstate.Chunk
		err := r.Scan(&c.Lo, &c.Hi)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("take bulk-load ranges: %w", err)
	}
	return out, nil
}

// tile merges ranges sorted by Lo where they overlap (concurrent bulk
// loads interleave their ids) and splits the result into chunks of at most
// size ids, so that no product is in two chunks of the pass.
func tile(ranges []indexstate.Chunk, size int) []indexstate.Chunk {
	var merged []indexstate.Chunk
	for _, r := range ranges {
		if n := len(merged); n > 0 && r.Lo <= merged[n-1].Hi+1 {
			merged[n-1].Hi = max(merged[n-1].Hi, r.Hi)
			continue
		}
		merged = append(merged, r)
	}
	var out []indexstate.Chunk
	for _, r := range merged {
		for lo := r.Lo; lo <= r.Hi; lo += int64(size) {
			out = append(out, indexstate.Chunk{Lo: lo, Hi: min(r.Hi, lo+int64(size)-1)})
		}
	}
	return out
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
// replicas hold) and, when a product in it has its indexed version missing
// or behind, or an indexed product no longer exists, sends one range message
// for the chunk (emu upserts and deletes what the index lacks then); it
// marks the chunk done in the same transaction and returns how many
// products the message stood for. It returns errNoChunk when nothing is
// left to claim.
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
		states := indexstate.New(tx, c.model)
		behind, err := states.Behind(ctx, lo, hi)
		if err != nil {
			return err
		}
		orphans, err := states.Orphans(ctx, lo, hi)
		if err != nil {
			return err
		}
		products := len(behind) + len(orphans)
		if products == 0 {
			return markChunkDone(ctx, tx, pass, lo, 0, p.cfg.Name)
		}
		// One message stands for the chunk: emu reads what the index lacks
		// in lo..hi when it works the message, so a product edited since
		// is read as it is then.
		rs, err := p.send(ctx, []queuemsg.Message{{Op: queuemsg.OpRange, Source: queuemsg.SourceCatchup,
			Lo: lo, Hi: hi, Generation: c.gen}})
		if err != nil {
			return err
		}
		if len(rs) > 0 {
			// Refused for good (a range's body is a few bytes of ASCII, so
			// only a misconfigured queue does this): its products are
			// recorded as failed, as a refused message's product is.
			why := rs[0].reason
			rs = rs[:0]
			for _, st := range behind {
				rs = append(rs, refused{msg: queuemsg.Message{ProductID: st.ProductID, Version: st.Version, Source: queuemsg.SourceCatchup}, reason: why})
			}
			for _, o := range orphans {
				rs = append(rs, refused{msg: queuemsg.Message{ProductID: o.ProductID, Version: o.Version + 1, Source: queuemsg.SourceCatchup}, reason: why})
			}
			if err := p.isolate(ctx, tx, rs); err != nil {
				return err
			}
			return markChunkDone(ctx, tx, pass, lo, 0, p.cfg.Name)
		}
		sent = products
		failpoint.Hit(failpoint.PelicanInCatchupChunk)
		return markChunkDone(ctx, tx, pass, lo, sent, p.cfg.Name)
	})
	return sent, err
}

// markChunkDone records that the chunk of the pass starting at lo is done,
// standing for sent products, in the chunk's transaction.
func markChunkDone(ctx context.Context, tx pgx.Tx, pass, lo int64, sent int, by string) error {
	_, err := tx.Exec(ctx, `UPDATE catchup_chunks SET done_at = now(), sent = $3, done_by = $4 WHERE pass_id = $1 AND lo = $2`,
		pass, lo, sent, by)
	if err != nil {
		return fmt.Errorf("mark catch-up chunk at %d done: %w", lo, err)
	}
	return nil
}

// ForgetCatchup deletes the catch-up passes of model (an index generation
// being dropped) and its record of the bulk-load ranges it took.
func ForgetCatchup(ctx context.Context, pool *pgxpool.Pool, model string) error {
	if _, err := pool.Exec(ctx, `DELETE FROM catchup_passes WHERE model = $1`, model); err != nil {
		return fmt.Errorf("forget the catch-up passes of %s: %w", model, err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM backfill_ranges_taken WHERE model = $1`, model); err != nil {
		return fmt.Errorf("forget the bulk-load ranges %s took: %w", model, err)
	}
	return nil
}
