// Command larder is the one binary of larder: the broker (`larder broker`), and
// the Heroku-style commands users type (`larder addons:create …`).
package main

import (
	"os"

	"larder/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
