// Command larder is the one binary of larder: the Heroku-style commands users
// type (`larder addons:create …`, package cli) and the server roles
// (`larder broker`, `larder agent`, `larder monitor`, package daemon).
package main

import (
	"os"
	"runtime/debug"
	"slices"

	"github.com/urfave/cli/v2"

	larder "larder/cli"
	"larder/daemon"
)

func main() {
	roles := daemon.Commands()
	// A command users type lives for a moment and holds little: collecting
	// its garbage less often (at 5× what is live, not 2×) took a sixth off
	// `larder addons` of 10 000 add-ons. The server roles keep the
	// runtime's default, and GOGC, when set, wins.
	if os.Getenv("GOGC") == "" && !isRole(os.Args, roles) {
		debug.SetGCPercent(400)
	}
	os.Exit(larder.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, roles...))
}

// isRole says whether args run one of the server roles.
func isRole(args []string, roles []*cli.Command) bool {
	if len(args) < 2 {
		return false
	}
	return slices.ContainsFunc(roles, func(c *cli.Command) bool { return c.HasName(args[1]) })
}
