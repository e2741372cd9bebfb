package cmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/vectorstore"
)

func newStatusCmd(cfg *app.Config) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show how far the vector index is behind the products table",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := app.Status(cmd.Context(), *cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(s)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "model\t%s\n", s.Model)
			fmt.Fprintf(w, "products\t%d\n", s.Products)
			fmt.Fprintf(w, "indexed\t%d\n", s.Indexed)
			fmt.Fprintf(w, "stale\t%d\n", s.Stale)
			fmt.Fprintf(w, "missing\t%d\n", s.Missing)
			fmt.Fprintf(w, "delete pending\t%d\n", s.DeletePending)
			fmt.Fprintf(w, "failed\t%d\n", s.Failed)
			fmt.Fprintf(w, "outbox\t%d\n", s.Outbox)
			fmt.Fprintf(w, "queue (%s)\tvisible %d, in flight %d, dead %d\n", s.QueueBackend, s.Queue.Visible, s.Queue.InFlight, s.Queue.Dead)
			for _, lane := range []queue.Lane{queue.LaneLive, queue.LaneBackfill} {
				if d, ok := s.QueueLanes[lane]; ok {
					fmt.Fprintf(w, "  %s lane\tvisible %d, in flight %d, dead %d\n", lane, d.Visible, d.InFlight, d.Dead)
				}
			}
			fmt.Fprintf(w, "oldest unindexed change\t%.1fs ago\n", s.OldestUnindexedAgeSeconds)
			if si := s.SearchIndex; si != nil {
				line := si.State
				if si.State == vectorstore.IndexBuilding {
					line = fmt.Sprintf("building: %.0f%% (%d of %d vectors, %s), about %s left",
						si.Percent(), si.Done, si.Total, si.Phase, (time.Duration(si.ETASeconds) * time.Second).String())
				}
				fmt.Fprintf(w, "search index\t%s\n", line)
			}
			sync := "yes"
			if !s.InSync() {
				sync = "no"
			}
			fmt.Fprintf(w, "in sync\t%s\n", sync)
			if o := s.Outage; o != nil {
				fmt.Fprintf(w, "outage\t%s since %s: %s\n", o.Component, o.Since.UTC().Format(time.RFC3339), o.Error)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
