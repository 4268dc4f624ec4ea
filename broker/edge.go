package broker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// EdgeConfig is where add-ons' URLs point: the edge (package edge, run in
// the broker's process or as `larder edge`). Each add-on claims a plain
// and a TLS port of the range for its whole life, and its URLs name Host
// with them; the edge follows the store to forward each port to the
// add-on's primary. Without a range (PortMax 0) no port is claimed and URLs
// name the primary node, as before the edge.
type EdgeConfig struct {
	Host             string // written into URLs
	PortMin, PortMax int    // the edge's port range, inclusive
	// CAPath and CACert are the CA that signed the edge's certificate when
	// it is larder's own, shown with the credentials for clients' --cacert;
	// empty with an operator's certificate.
	CAPath, CACert string
}

func (c EdgeConfig) enabled() bool { return c.PortMax > 0 }

func (c EdgeConfig) validate() error {
	if !c.enabled() {
		return nil
	}
	if c.Host == "" {
		return fmt.Errorf("edge: a host to write into URLs is required")
	}
	if c.PortMin < 1024 || c.PortMax > 65535 || c.PortMin > c.PortMax {
		return fmt.Errorf("edge port range %d-%d: want 1024 <= min <= max <= 65535", c.PortMin, c.PortMax)
	}
	return nil
}

// claimEdge gives a its edge and the ports it lacks, in tx: the lowest
// free ports of the range, each INSERT … ON CONFLICT DO NOTHING, so a port
// another broker took meanwhile is skipped without failing tx. It reports
// whether it claimed anything.
func (b *Nodes) claimEdge(ctx context.Context, tx store.Tx, a store.Addon) (bool, error) {
	cfg := b.cfg.Edge
	if !cfg.enabled() {
		return false, nil
	}
	if err := tx.EnsureEdge(ctx, a.ID, cfg.Host); err != nil {
		return false, err
	}
	e, err := tx.EdgeOf(ctx, a.ID)
	if err != nil || e.Claimed() {
		return false, err
	}
	b.portMu.Lock()
	defer b.portMu.Unlock()
	used, err := tx.UsedEdgePorts(ctx)
	if err != nil {
		return false, err
	}
	taken := map[int]bool{}
	for _, p := range used {
		taken[p] = true
	}
	p := cfg.PortMin
	for _, k := range []struct {
		kind string
		has  bool
	}{{store.EdgePlain, e.Port > 0}, {store.EdgeTLS, e.TLSPort > 0}} {
		for ; !k.has; p++ {
			if p > cfg.PortMax {
				return false, fault.E(fault.Unavailable, "no free edge port left in %d-%d", cfg.PortMin, cfg.PortMax)
			}
			if taken[p] {
				continue
			}
			if k.has, err = tx.ClaimEdgePort(ctx, a.ID, k.kind, p); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// assignEdges gives every add-on that has no edge ports yet (made before
// the edge, or by a broker that ran none) its ports: its URLs move to the
// edge, once, and an event says so.
func (b *Nodes) assignEdges(ctx context.Context) error {
	if !b.cfg.Edge.enabled() {
		return nil
	}
	addons, err := b.store.Addons(ctx)
	if err != nil {
		return err
	}
	for _, a := range addons {
		if a.State == api.StateDeprovisioning {
			continue
		}
		err := b.store.InTx(ctx, func(tx store.Tx) error {
			claimed, err := b.claimEdge(ctx, tx, a)
			if err != nil || !claimed {
				return err
			}
			e, err := tx.EdgeOf(ctx, a.ID)
			if err != nil {
				return err
			}
			return tx.AddEvent(ctx, a.ID, a.Name, "edge.assigned", fmt.Sprintf(
				"URLs now name the edge: %s (plain), %s (TLS); they stay the same for the add-on's life",
				net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), net.JoinHostPort(e.Host, strconv.Itoa(e.TLSPort))))
		})
		if err != nil && fault.KindOf(err) != fault.NotFound { // NotFound: destroyed meanwhile
			return fmt.Errorf("edge ports for %s: %w", a.Name, err)
		}
	}
	return nil
}

// edgeNodeAt is the primary of the add-on whose edge endpoint is one of
// addrs with port (plain or TLS): a URL naming the edge reaches it.
func (b *Addons) edgeNodeAt(ctx context.Context, addrs []string, port int) (store.Node, bool, error) {
	edges, err := b.store.Edges(ctx)
	if err != nil {
		return store.Node{}, false, err
	}
	for _, e := range edges {
		if (e.Port != port && e.TLSPort != port) || !slices.Contains(addrs, e.Host) {
			continue
		}
		nodes, err := b.store.NodesOfAddon(ctx, e.AddonID)
		if err != nil {
			return store.Node{}, false, err
		}
		n, ok := primaryNode(nodes)
		return n, ok, nil
	}
	return store.Node{}, false, nil
}
