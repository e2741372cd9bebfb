package cmd

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The README's command list names every command and subcommand.
func TestReadmeListsEveryCommand(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var walk func(prefix string, c *cobra.Command)
	walk = func(prefix string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			name := prefix + " " + sub.Name()
			if len(sub.Commands()) > 0 {
				walk(name, sub)
				continue
			}
			if !strings.Contains(readme, name) && !strings.Contains(readme, prefix+" "+sub.Name()+" |") &&
				!strings.Contains(readme, "| "+sub.Name()) {
				t.Errorf("README.md does not list %q", name)
			}
		}
	}
	walk("refarch", newRootCmd())
}
