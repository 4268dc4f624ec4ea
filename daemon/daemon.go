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

import "github.com/urfave/cli/v2"

// Commands are the server roles' commands, for the larder command line.
func Commands() []*cli.Command {
	return []*cli.Command{brokerCommand(), agentCommand(), monitorCommand(), edgeCommand()}
}
