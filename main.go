// Command refarch is one binary for every role of the reference
// architecture: serve, pelican and emu, plus the tools around them.
package main

import (
	"os"

	"github.com/refarch/refarch/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
