package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/migrations"
)

func newMigrateCmd(cfg *app.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations embedded in this binary (idempotent)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Validate(app.Roles{}); err != nil {
				return err
			}
			pool, err := app.OpenDB(cmd.Context(), *cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			applied, err := migrations.Up(cmd.Context(), pool)
			for _, m := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %s\n", m.Describe())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema is at version %d\n", migrations.Latest())
			return nil
		},
	}
}
