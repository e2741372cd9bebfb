package status

import (
	"context"
	"time"

	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
)

// Generation is one index generation with its progress, as `refarch index
// list`, `status --json` and the status page show it.
type Generation struct {
	Name     string `json:"name"`
	Embedder string `json:"embedder"`
	Model    string `json:"model"`
	Dims     int    `json:"dims"`
	Store    string `json:"store"`
	State    string `json:"state"`
	// Indexed counts rows whose current version the generation holds, of
	// Total rows in the table; Stale, Missing and Failed as in Status.
	Indexed int64 `json:"indexed"`
	Total   int64 `json:"total"`
	Stale   int64 `json:"stale"`
	Missing int64 `json:"missing"`
	Failed  int64 `json:"failed"`
	// RatePerSecond is how many rows a building generation has taken per
	// second since it was created (its backfill rate); ETASeconds
	// extrapolates it to the rows left (0 when done, unknown, or not
	// building).
	RatePerSecond float64    `json:"rate_per_second"`
	ETASeconds    float64    `json:"eta_seconds"`
	CreatedAt     time.Time  `json:"created_at"`
	PromotedAt    *time.Time `json:"promoted_at"`
	RetiredAt     *time.Time `json:"retired_at"`
}

// Percent is the share of the table the generation holds.
func (g Generation) Percent() float64 {
	if g.Total == 0 {
		return 100
	}
	return 100 * float64(g.Indexed) / float64(g.Total)
}

// Generations lists every index generation with its progress (an empty
// list, not nil, when there is none: `index list --json` prints an array).
func Generations(ctx context.Context, db indexstate.DB) ([]Generation, error) {
	gens, err := generationsWith(ctx, db, "", indexstate.Summary{})
	if gens == nil && err == nil {
		gens = []Generation{}
	}
	return gens, err
}

// generationsWith lists the generations, with known as the summary of model
// (read already) instead of reading it again.
func generationsWith(ctx context.Context, db indexstate.DB, model string, known indexstate.Summary) ([]Generation, error) {
	gens, err := generations.List(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []Generation
	for _, g := range gens {
		sum := known
		if g.Name != model {
			if sum, err = indexstate.New(db, g.Name).Summarize(ctx); err != nil {
				return nil, err
			}
		}
		r := Generation{Name: g.Name, Embedder: g.Embedder, Model: g.Model, Dims: g.Dims, Store: g.StoreTarget(), State: g.State,
			Indexed: sum.Indexed, Total: sum.Products, Stale: sum.Stale, Missing: sum.Missing, Failed: sum.Failed,
			CreatedAt: g.CreatedAt, PromotedAt: g.PromotedAt, RetiredAt: g.RetiredAt}
		// A building generation's backfill rate: its rows over its age, so
		// that the ETA needs no second reading.
		if age := time.Since(g.CreatedAt).Seconds(); g.State == generations.Building && age > 0 {
			r.RatePerSecond = float64(sum.Indexed) / age
			if left := sum.Products - sum.Indexed; left > 0 && r.RatePerSecond > 0 {
				r.ETASeconds = float64(left) / r.RatePerSecond
			}
		}
		out = append(out, r)
	}
	return out, nil
}
