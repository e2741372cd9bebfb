package cmd

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/migrations"
)

// openDB checks the configuration a command that needs only the database
// uses, and connects.
func openDB(cmd *cobra.Command, cfg *app.Config) (*pgxpool.Pool, error) {
	if err := cfg.Validate(app.Roles{}); err != nil {
		return nil, err
	}
	return app.OpenDB(cmd.Context(), *cfg)
}

func newMigrateCmd(cfg *app.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations embedded in this binary (idempotent)",
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, err := openDB(cmd, cfg)
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
