package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/generations"
)

func newIndexCmd(cfg *app.Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "List, create, promote and drop index generations (change the embedding model or vector store)",
		Long: `An index generation is an embedder (kind, model, dimensions) and a vector store target.
Exactly one is active: searches use it. Every change of the table reaches every
generation that is building, active or retired-but-not-dropped.

  refarch index create --embedder hash --hash-dim 128   # prints the name; the backfill starts at once
  refarch index list                                     # progress of each generation
  refarch index promote NAME                             # searches switch to it, atomically
  refarch index drop OLD                                 # delete a retired generation's vectors`,
	}
	cmd.AddCommand(newIndexListCmd(cfg), newIndexCreateCmd(cfg), newIndexPromoteCmd(cfg), newIndexDropCmd(cfg))
	return cmd
}

func newIndexListCmd(cfg *app.Config) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every index generation with its progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, err := app.IndexList(cmd.Context(), *cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rows)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSTATE\tMODEL\tDIMS\tSTORE\tINDEXED\tPROGRESS\tCREATED\tPROMOTED")
			for _, r := range rows {
				progress := fmt.Sprintf("%.1f%%", percent(r.Indexed, r.Total))
				if r.State == generations.Building && r.ETASeconds > 0 {
					progress += fmt.Sprintf(" (%.0f/s, %s left)", r.RatePerSecond, (time.Duration(r.ETASeconds) * time.Second).String())
				}
				promoted := "-"
				if r.PromotedAt != nil {
					promoted = r.PromotedAt.UTC().Format(time.DateTime)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\n", r.Name, r.State, r.Model, r.Dims, r.Store,
					r.Indexed, r.Total, progress, r.CreatedAt.UTC().Format(time.DateTime), promoted)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func percent(n, of int64) float64 {
	if of == 0 {
		return 100
	}
	return 100 * float64(n) / float64(of)
}

func newIndexCreateCmd(cfg *app.Config) *cobra.Command {
	var o app.CreateOptions
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a building generation with the embedder and vector store flags given (default: the configured ones); prints its name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			g, created, err := app.IndexCreate(cmd.Context(), *cfg, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), g.Name)
			switch {
			case !created:
				fmt.Fprintf(cmd.ErrOrStderr(), "refarch: generation %s (%s) already has this embedder and store: nothing to create\n", g.Name, g.State)
				return nil
			case g.State == generations.Active:
				fmt.Fprintf(cmd.ErrOrStderr(), "refarch: generation %s is the first of this database, and so active\n", g.Name)
				return nil
			}
			if o.AutoPromote {
				fmt.Fprintf(cmd.ErrOrStderr(), "refarch: generation %s (%s, %d dimensions, %s) is building; pelican promotes it once complete (follow it with `refarch index list`)\n",
					g.Name, g.Model, g.Dims, g.StoreTarget())
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "refarch: generation %s (%s, %d dimensions, %s) is building; follow it with `refarch index list`, then `refarch index promote %s`\n",
				g.Name, g.Model, g.Dims, g.StoreTarget(), g.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.AutoPromote, "auto-promote", false, "promote the generation by itself as soon as its backfill is complete")
	cmd.Flags().BoolVar(&o.IfMissing, "if-missing", false, "create nothing when a live generation already has this embedder, model, dimensions and store (for a deploy's release step)")
	return cmd
}

func newIndexPromoteCmd(cfg *app.Config) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "Make a complete generation active (searches use it from now on); the active one is retired and kept up to date",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := app.IndexPromote(cmd.Context(), *cfg, args[0], force)
			var inc generations.IncompleteError
			if errors.As(err, &inc) {
				return fmt.Errorf("promote %s refused: it lacks %d rows the active generation holds; wait for the backfill (`refarch index list`) or use --force", inc.Name, inc.Missing)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is active\n", g.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "promote even when rows are missing (searches will not find them until they are indexed)")
	return cmd
}

func newIndexDropCmd(cfg *app.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "drop NAME",
		Short: "Delete a generation that is not active: its vectors and its index state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.IndexDrop(cmd.Context(), *cfg, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s dropped\n", args[0])
			return nil
		},
	}
}
