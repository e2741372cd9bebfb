package cmd

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newServeCmd(cfg *app.Config) *cobra.Command {
	var (
		all    bool
		except string
		only   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the web UI, JSON API and search (--all: every role in one process)",
		Long: `Run the web UI, JSON API and search.

With --all, pelican and emu run in the same process too: the whole system on a
laptop with nothing but Postgres. --all --except emu (or --roles serve,pelican)
runs the rest of the stack while one role runs elsewhere, for example under a
debugger (make debug ROLE=emu) on its own --addr.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			roles := app.Roles{Serve: true, Pelican: all, Emu: all}
			var err error
			switch {
			case only != "" && (all || except != ""):
				return errors.New("--roles names every role to run; do not combine it with --all or --except")
			case only != "":
				roles, err = app.ParseRoles(only)
			case except != "":
				roles, err = app.Roles{Serve: true, Pelican: true, Emu: true}.Except(except)
			}
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), *cfg, roles, app.NewLogger(*cfg, os.Stderr))
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also run pelican and emu in this process")
	cmd.Flags().StringVar(&except, "except", "", "with --all (implied), leave out these roles (comma-separated: serve, pelican, emu)")
	cmd.Flags().StringVar(&only, "roles", "", "run exactly these roles (comma-separated: serve, pelican, emu)")
	return cmd
}
