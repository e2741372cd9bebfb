package cmd

import (
	"encoding/json"
	"fmt"

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
			progress := func(r reconcile.Report) {
				fmt.Fprintf(cmd.ErrOrStderr(), "reconcile: %d products checked, %d out of sync\n", r.Products, r.Products-r.InSync)
			}
			r, err := app.Reconcile(cmd.Context(), *cfg, repair, progress)
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
