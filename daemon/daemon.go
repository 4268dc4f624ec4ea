// Package daemon is larder's wiring: the commands of its long-running
// roles, which build the pieces and connect them. `larder broker` opens the
// store (SQLite by default), the local host and the agents' client, builds
// the orchestration core (package broker) and serves its HTTP API
// (broker/httpapi) with the Open Service Broker API (broker/osb) on one
// listener; `larder agent` runs a host's nodes for a remote broker
// (provisioner/local behind provisioner/agent); `larder monitor` runs an HA
// observer (ha/observe); `larder edge` serves add-ons' stable URLs (package
// edge, kept equal to the store by daemon/edgesync), which the broker
// otherwise runs in its own process. Package cli holds the users' commands and never
// imports these pieces: cmd/larder hands it Commands.
package daemon

import (
	"fmt"
	"runtime/debug"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	command "larder/cli"
)

// Commands are the server roles' commands, for the larder command line.
func Commands() []*cli.Command {
	return []*cli.Command{brokerCommand(), agentCommand(), monitorCommand(), edgeCommand()}
}

// roleLogger is a server role's logger: to its error stream, at its
// --log-level.
func roleLogger(c *cli.Context) (*logrus.Logger, error) {
	level, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return nil, command.UsageError(fmt.Sprintf("invalid --log-level %q", c.String("log-level")), "use debug, info, warn or error")
	}
	log := logrus.New()
	log.SetOutput(c.App.ErrWriter)
	log.SetLevel(level)
	return log, nil
}

// version is this binary's, as `larder brokers` shows it: the module's
// version, or its VCS revision when built from a checkout, or "dev".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return "dev"
}
