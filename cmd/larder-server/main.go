// Command larder-server runs larder's server roles (`larder-server broker`,
// `agent`, `monitor`, `edge`; package daemon) and, for an operator on a
// server, every command of larder too. The larder command hands its role
// commands over to this binary, which `make install` puts beside it.
package main

import (
	"os"

	larder "larder/cli"
	"larder/daemon"
)

func main() {
	os.Exit(larder.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, daemon.Commands()...))
}
