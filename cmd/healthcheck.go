package cmd

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

func newHealthcheckCmd(cfg *app.Config) *cobra.Command {
	var ready bool
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local process answers /healthz, or /readyz with --ready (for container HEALTHCHECK)",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, port, err := net.SplitHostPort(cfg.Addr)
			if err != nil {
				return fmt.Errorf("address %q: %w", cfg.Addr, err)
			}
			client := &http.Client{Timeout: 3 * time.Second}
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			resp, err := client.Get("http://127.0.0.1:" + port + path)
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health check: status %s", resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&ready, "ready", false, "ask /readyz: fail while the database refuses new connections or the schema is old")
	return cmd
}
