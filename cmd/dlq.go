package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newDLQCmd(cfg *app.Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and redrive dead-lettered messages",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "redrive",
		Short: "Move every dead-lettered message back to the queue",
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := app.Redrive(cmd.Context(), *cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "redrove %d messages\n", n)
			return nil
		},
	})
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List the products emu gave up on, newest first",
		RunE: func(cmd *cobra.Command, args []string) error {
			fs, d, err := app.DeadLetters(cmd.Context(), *cfg, limit)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "dead messages in the queue: %d\n", d.Dead)
			fmt.Fprintln(w, "PRODUCT\tVERSION\tRECEIVES\tFAILED AT\tERROR")
			for _, f := range fs {
				fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\n", f.ProductID, f.Version, f.ReceiveCount, f.FailedAt.Format("2006-01-02 15:04:05Z07:00"), f.Error)
			}
			return w.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "most products to list")
	cmd.AddCommand(list)
	return cmd
}
