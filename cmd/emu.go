package cmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newEmuCmd(cfg *app.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "emu",
		Short: "Embed changed products and write them to the vector index",
		Long: `Run the consumer role: --concurrency workers receive batches from the queue,
read the current rows, embed only what changed (a price edit is a metadata-only
update), never write an older version over a newer one, and record what the
index holds in index_state. SIGTERM finishes or releases in-flight batches.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.Run(cmd.Context(), *cfg, app.Roles{Emu: true}, app.NewLogger(*cfg, os.Stderr))
		},
	}
}
