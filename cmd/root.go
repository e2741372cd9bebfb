// Package cmd is the command line: one thin cobra file per subcommand that
// binds flags and environment into app's Config and calls into app.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/refarch/refarch/app"
)

// Execute runs the command line and returns the process exit code.
func Execute() int {
	ctx, stop := interruptContext(context.Background(), os.Stderr, os.Exit)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refarch:", err)
	}
	return exitCode(err)
}

// exitCode is the process status for a command's error: a command may carry its own (aws run
// ends with its task's), an interrupt is 130, any other failure 1.
func exitCode(err error) int {
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &coded):
		return coded.ExitCode()
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

// interruptContext is cancelled by the first SIGINT or SIGTERM, which starts
// a graceful drain; a second one exits at once with status 130, for the
// developer who does not want to wait.
func interruptContext(parent context.Context, stderr io.Writer, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "refarch: draining; interrupt again to exit at once")
		cancel()
		select {
		case <-sigs:
			exit(130)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}

func newRootCmd() *cobra.Command {
	cfg := &app.Config{}
	root := &cobra.Command{
		Use:   "refarch",
		Short: "Semantic search over a Postgres table, kept in sync with a vector index",
		Long: `refarch keeps a vector index in sync with the products table and serves semantic search.

Roles (the same binary, deployed three times):
  serve     the web UI, JSON API, search, health and metrics
  pelican   moves every row, then every change, from Postgres onto the queue
  emu       embeds products and writes vectors to the index

Every flag is also a REFARCH_* environment variable (DATABASE_URL is honoured);
flags beat the environment, which beats the defaults.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			cfg.ApplyEnv(cmd.Root().PersistentFlags(), os.Getenv)
			return nil
		},
	}
	cfg.Bind(root.PersistentFlags())
	root.AddCommand(
		newConfigCmd(cfg),
		newMigrateCmd(cfg),
		newSeedCmd(cfg),
		newImportCmd(cfg),
		newServeCmd(cfg),
		newHealthcheckCmd(cfg),
		newPelicanCmd(cfg),
		newEmuCmd(cfg),
		newStatusCmd(cfg),
		newDLQCmd(cfg),
		newReconcileCmd(cfg),
		newIndexCmd(cfg),
		newDeployCmd(),
		newDestroyCmd(),
		newVersionCmd(),
		newAWSCmd(),
	)
	return root
}
