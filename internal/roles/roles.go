// Package roles names larder's server roles for both of its binaries:
// larder-server runs them (package daemon), and the larder command hands
// `larder broker …` and the like over to larder-server, so the commands
// users type start without the server's packages.
package roles

// Server is the binary that runs the roles; `make install` puts it beside
// larder.
const Server = "larder-server"

// Role is one server role's command.
type Role struct {
	Name  string
	Usage string
}

// The roles, in the order `larder help` lists them.
var (
	Broker  = Role{"broker", "run the broker: the HTTP API that provisions and supervises add-ons"}
	Agent   = Role{"agent", "run a host: start and supervise the nodes a broker places on this machine"}
	Monitor = Role{"monitor", "run an HA observer: probe every node from this network location and report to the broker"}
	Edge    = Role{"edge", "run the edge: every add-on's stable URL, with TLS and its allowlist"}
	All     = []Role{Broker, Agent, Monitor, Edge}
)

// Category is the heading the roles are listed under.
const Category = "server"

// Is says whether name is a role's command.
func Is(name string) bool {
	for _, r := range All {
		if r.Name == name {
			return true
		}
	}
	return false
}
