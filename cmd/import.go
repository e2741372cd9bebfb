package cmd

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/catalog"
)

func newImportCmd(cfg *app.Config) *cobra.Command {
	var (
		file        string
		skipInvalid bool
	)
	cmd := &cobra.Command{
		Use:   "import --csv FILE",
		Short: "Load products from the seed system's CSV (name,sku,description,price,last_updated), upserting by SKU",
		Long: `Load products from the seed system's CSV (name,sku,description,price,last_updated).

Rows are upserted by SKU, so importing the same file twice changes nothing. If any
row is malformed, nothing is loaded and every bad row is listed with its line
number; with --skip-invalid the valid rows are loaded and the bad ones listed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("--csv FILE is required")
			}
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("open csv: %w", err)
			}
			defer f.Close()
			ctx := cmd.Context()
			pool, err := openDB(cmd, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			start := time.Now()
			p := progress(cmd, "read")
			res, err := catalog.ImportCSV(ctx, pool, f, catalog.ImportOptions{
				SkipInvalid: skipInvalid,
				Progress:    func(rows int) { p(rows, 0) },
			})
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			out := cmd.OutOrStdout()
			for _, r := range res.Rejected {
				fmt.Fprintf(out, "rejected %s\n", r.Error())
			}
			fmt.Fprintf(out, "read %d rows: %d inserted, %d updated, %d unchanged, %d rejected in %s\n",
				res.Read, res.Inserted, res.Updated, res.Unchanged, len(res.Rejected), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "csv", "", "CSV file to import")
	cmd.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "load the valid rows and list the rejected ones")
	return cmd
}
