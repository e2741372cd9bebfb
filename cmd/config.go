package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newConfigCmd(cfg *app.Config) *cobra.Command {
	var roles []string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (secrets redacted) and check it",
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, l := range app.Print(cmd.Root().PersistentFlags()) {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			r := app.Roles{Serve: true, Pelican: true, Emu: true}
			return cfg.Validate(r)
		},
	}
	_ = roles
	return cmd
}
