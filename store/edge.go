package store

import "context"

// Edge port kinds.
const (
	EdgePlain = "plain"
	EdgeTLS   = "tls"
)

// Edge is an add-on's stable endpoint: the host its URLs name, the ports
// the edge listens on for it (0 until claimed), and who may connect. The
// ports are the add-on's for its whole life, so its URLs never change.
type Edge struct {
	AddonID string
	Host    string
	Port    int // plain connections
	TLSPort int // TLS connections
	// Allowlist is the CIDRs clients may connect from, as the owner gave
	// them; empty means the edge's default list (loopback and private
	// networks).
	Allowlist []string
	TLSOnly   bool // plain connections are refused
}

// Claimed reports whether the edge has both of the add-on's ports.
func (e Edge) Claimed() bool { return e.Port > 0 && e.TLSPort > 0 }

// EdgeRepo holds add-ons' edge endpoints and their access settings.
type EdgeRepo interface {
	// EnsureEdge records an add-on's edge with the host its URLs name,
	// unless it has one (its host then stays: URLs never change).
	EnsureEdge(ctx context.Context, addonID, host string) error
	// ClaimEdgePort gives the add-on port for kind (EdgePlain or EdgeTLS)
	// unless another add-on's edge holds it, and reports whether it did. A
	// taken port is no error (INSERT … ON CONFLICT DO NOTHING), so a caller
	// can try the next one inside a transaction; a second port of one kind
	// for the add-on is a Conflict, an add-on without an edge NotFound.
	ClaimEdgePort(ctx context.Context, addonID, kind string, port int) (bool, error)
	// UsedEdgePorts lists every claimed edge port, ascending.
	UsedEdgePorts(ctx context.Context) ([]int, error)
	// EdgeOf returns an add-on's edge; NotFound when it has none yet.
	EdgeOf(ctx context.Context, addonID string) (Edge, error)
	// Edges lists every add-on's edge, by add-on id.
	Edges(ctx context.Context) ([]Edge, error)
	// SetEdgeAccess replaces an add-on's allowlist and TLS-only setting;
	// NotFound when it has no edge.
	SetEdgeAccess(ctx context.Context, addonID string, allowlist []string, tlsOnly bool) error
}
