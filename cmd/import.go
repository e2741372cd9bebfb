package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/s3object"
)

func newImportCmd(cfg *app.Config) *cobra.Command {
	var (
		file        string
		skipInvalid bool
		ifEmpty     bool
		s3Endpoint  string
	)
	cmd := &cobra.Command{
		Use:   "import --csv FILE",
		Short: "Load products from the seed system's CSV (name,sku,description,price,last_updated), upserting by SKU",
		Long: `Load products from the seed system's CSV (name,sku,description,price,last_updated).

Rows are upserted by SKU, so importing the same file twice changes nothing. If any
row is malformed, nothing is loaded and every bad row is listed with its line
number; with --skip-invalid the valid rows are loaded and the bad ones listed.

FILE may be s3://bucket/key (read with the AWS SDK's usual credentials; in AWS, run it as
` + "`refarch aws run -- import --csv s3://...`" + `, whose role may read the buckets named in
ops_import_bucket_arns). With --if-empty nothing is read when the table already has products,
which is how a first deploy loads its catalog exactly once.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("--csv FILE is required")
			}
			ctx := cmd.Context()
			pool, err := openDB(cmd, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			if ifEmpty {
				n, err := catalog.NewStore(pool).Count(ctx)
				if err != nil {
					return fmt.Errorf("%w (did you run `refarch migrate`?)", err)
				}
				if n > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "catalog already has %d products; not importing\n", n)
					return nil
				}
			}
			var f io.ReadCloser
			if s3object.IsAddress(file) {
				f, err = s3object.Open(ctx, file, s3object.Options{Region: cfg.AWSRegion, Endpoint: s3Endpoint})
			} else {
				f, err = os.Open(file)
			}
			if err != nil {
				return fmt.Errorf("open csv: %w", err)
			}
			defer f.Close()
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
	cmd.Flags().StringVar(&file, "csv", "", "CSV file to import, a path or s3://bucket/key")
	cmd.Flags().BoolVar(&ifEmpty, "if-empty", false, "do nothing when the table already has products")
	cmd.Flags().StringVar(&s3Endpoint, "s3-endpoint", "", "S3 endpoint override (local servers)")
	cmd.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "load the valid rows and list the rejected ones")
	return cmd
}
