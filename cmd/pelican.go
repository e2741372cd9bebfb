package cmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newPelicanCmd(cfg *app.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "pelican",
		Short: "Move every unindexed product, then every change, from Postgres onto the queue",
		Long: `Run the producer role: on start it catches up (enqueues every product the index
does not hold at its current version, and a delete for every indexed product
that is gone; also the first-deployment bootstrap, split across replicas and
resumable), then drains sync_outbox, woken by NOTIFY and polling as a safety
net. Nothing is sent before emu has created the vector index.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.Run(cmd.Context(), *cfg, app.Roles{Pelican: true}, app.NewLogger(*cfg, os.Stderr))
		},
	}
}
