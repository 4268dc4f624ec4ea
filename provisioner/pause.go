package provisioner

import "time"

// PauseOwnerLease owns the pause an agent puts on a primary when its lease
// runs out (see Lease).
const PauseOwnerLease = "lease"

// Pause is a write pause a host holds on a node: recorded state with an
// owner and a reason, reported in the host's status and lifted only by the
// host, when the broker confirms the node's role (SetRole).
type Pause struct {
	Owner  string    `json:"owner"`  // who put it there: "lease"
	Reason string    `json:"reason"` // e.g. "lease expired"
	Since  time.Time `json:"since"`
}

// String is how people are told: "writes paused since T: lease expired".
func (p Pause) String() string {
	return "writes paused since " + p.Since.UTC().Format(time.RFC3339) + ": " + p.Reason
}
