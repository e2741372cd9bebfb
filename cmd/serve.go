package cmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newServeCmd(cfg *app.Config) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the web UI, JSON API and search (--all: every role in one process)",
		Long: `Run the web UI, JSON API and search.

With --all, pelican and emu run in the same process too: the whole system on a
laptop with nothing but Postgres.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			roles := app.Roles{Serve: true, Pelican: all, Emu: all}
			return app.Run(cmd.Context(), *cfg, roles, app.NewLogger(*cfg, os.Stderr))
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also run pelican and emu in this process")
	return cmd
}
