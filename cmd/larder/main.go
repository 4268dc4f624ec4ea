// Command larder is larder's command line: the Heroku-style commands users
// type (`larder addons:create …`, package cli). The server roles (`larder
// broker`, `agent`, `monitor`, `edge`) live in larder-server, which larder
// becomes (exec, same process) when one of them is asked for: the commands
// users type start without the store, engine, metrics and backup packages
// the servers link, a third of `larder addons`' time.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"

	larder "larder/cli"
	"larder/internal/roles"
)

func main() {
	if len(os.Args) > 1 && roles.Is(os.Args[1]) {
		os.Exit(runServer(os.Args[1:]))
	}
	// A command users type lives for a moment and holds little: collecting
	// its garbage less often (at 5× what is live, not 2×) took a sixth off
	// `larder addons` of 10 000 add-ons. GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(larder.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, roleCommands()...))
}

// roleCommands list the server roles in larder's help; asked for after
// other flags (`larder --x broker`), they hand over to larder-server too.
func roleCommands() []*cli.Command {
	var cmds []*cli.Command
	for _, r := range roles.All {
		cmds = append(cmds, &cli.Command{
			Name:            r.Name,
			Category:        roles.Category,
			Usage:           r.Usage,
			UsageText:       "larder " + r.Name + " [flags] (larder " + r.Name + " --help lists them)",
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				os.Exit(runServer(append([]string{r.Name}, c.Args().Slice()...)))
				return nil
			},
		})
	}
	return cmds
}

// runServer replaces this process with larder-server running args: the
// same process id, signals and output, as if larder had been it.
func runServer(args []string) int {
	path, err := serverPath()
	if err != nil {
		fmt.Fprintf(os.Stderr, " ▸    %v\n", err)
		return 1
	}
	err = syscall.Exec(path, append([]string{"larder"}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, " ▸    larder %s: run %s: %v\n", args[0], path, err)
	return 1
}

// serverPath finds larder-server beside this binary, else on PATH.
func serverPath() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), roles.Server)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(roles.Server)
	if err != nil {
		return "", fmt.Errorf("the server roles run in %s, which is neither beside this larder nor on PATH: `make install` puts both in its PREFIX/bin", roles.Server)
	}
	return p, nil
}
