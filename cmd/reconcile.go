package cmd

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/reconcile"
)

func newReconcileCmd(cfg *app.Config) *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Compare the table, index_state and the vector store (--repair enqueues fixes)",
		Long: `Compare every product with its index_state row and with the vector the store
holds, page by page, and report missing, stale and orphan counts as JSON. With
--repair, enqueue an upsert for every product out of sync and a delete for
every orphan; pelican and emu need not be stopped.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A line a second at most, and the last one.
			var last time.Time
			var lastLine string
			progress := func(p reconcile.Progress) {
				lastLine = p.String()
				if time.Since(last) >= time.Second {
					last = time.Now()
					fmt.Fprintf(cmd.ErrOrStderr(), "reconcile: %s\n", lastLine)
					lastLine = ""
				}
			}
			r, err := app.Reconcile(cmd.Context(), *cfg, repair, progress)
			if lastLine != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "reconcile: %s\n", lastLine)
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(r); err != nil {
				return err
			}
			if !r.Clean() && !repair {
				return fmt.Errorf("index is out of sync with the table (run with --repair to enqueue fixes)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "enqueue fixes for everything out of sync")
	return cmd
}
