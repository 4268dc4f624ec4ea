// Command larder is the one binary of larder: the Heroku-style commands users
// type (`larder addons:create …`, package cli) and the server roles
// (`larder broker`, `larder agent`, `larder monitor`, package daemon).
package main

import (
	"os"

	"larder/cli"
	"larder/daemon"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, daemon.Commands()...))
}
