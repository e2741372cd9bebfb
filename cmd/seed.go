package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/catalog"
)

func newSeedCmd(cfg *app.Config) *cobra.Command {
	var (
		count   int
		seed    int64
		ifEmpty bool
	)
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Insert a generated, deterministic product catalog with real semantic variety",
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 || count > 10_000_000 {
				return fmt.Errorf("--count %d: want 1 to 10000000", count)
			}
			ctx := cmd.Context()
			pool, err := openDB(cmd, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			out := cmd.OutOrStdout()
			if ifEmpty {
				n, err := catalog.NewStore(pool).Count(ctx)
				if err != nil {
					return fmt.Errorf("%w (did you run `refarch migrate`?)", err)
				}
				if n > 0 {
					fmt.Fprintf(out, "catalog already has %d products; not seeding\n", n)
					return nil
				}
			}
			start := time.Now()
			n, err := catalog.Seed(ctx, pool, catalog.SeedOptions{Count: count, Seed: seed, Progress: progress(cmd, "seeded")})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "seeded %d products in %s\n", n, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 10_000, "how many products to generate")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed; the same seed gives the same catalog")
	cmd.Flags().BoolVar(&ifEmpty, "if-empty", false, "do nothing when the table already has products")
	return cmd
}

// progress prints a line at most every half second, to stderr so that
// stdout stays parseable.
func progress(cmd *cobra.Command, verb string) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if time.Since(last) < 500*time.Millisecond && done != total {
			return
		}
		last = time.Now()
		if total > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %d/%d (%d%%)\n", verb, done, total, done*100/total)
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %d\n", verb, done)
		}
	}
}
