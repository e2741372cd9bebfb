package cmd

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build time and (in AWS) image digest of this binary",
		Long: `version prints what this binary was built from: the version and commit stamped by
make build or the image build (else what the Go toolchain recorded), the build time, and in a
deployed task the image digest the task definition names (REFARCH_IMAGE_DIGEST). GET /version
on any role's port answers the same as JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Get(os.Getenv)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			fmt.Fprintf(out, "refarch %s\ncommit:     %s\nbuilt:      %s\ngo:         %s\n", info.Version, info.Commit, info.BuildTime, info.GoVersion)
			if info.ImageDigest != "" {
				fmt.Fprintf(out, "image:      %s\n", info.ImageDigest)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as GET /version does")
	return cmd
}
