package broker

import (
	"context"
	"sync"
	"time"

	"larder/api"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// adoptNodes takes every settled add-on's nodes back under supervision after a
// broker start. Nodes that answer keep running untouched; missing ones are
// restarted in place. Nodes on the broker's own host are adopted before it
// serves; agents are connected to and their nodes adopted in the background,
// one goroutine per agent, so an unreachable one delays nothing: it is listed
// as pending meanwhile (an agent that does not answer yet is retried by its
// client's poll loop, and the reconciler adopts its nodes once it answers).
func (b *Hosts) adoptNodes(ctx context.Context, agents []store.Host) error {
	addons, err := b.store.Addons(ctx)
	if err != nil {
		return err
	}
	remote := map[string][]adoption{}
	for _, a := range addons {
		if a.State != api.StateProvisioned && a.State != api.StateFailed {
			continue // provisioning and deprovisioning add-ons are resumed by their operation
		}
		nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
		if err != nil {
			return err
		}
		for i, n := range nodes {
			if n.State == store.NodeStarting {
				continue // claimed by an unfinished operation, which starts it or removes it
			}
			if n.Host != b.localName {
				remote[n.Host] = append(remote[n.Host], adoption{a, n, specs[i]})
				continue
			}
			if err := b.adoptNode(ctx, a, n, specs[i]); err != nil {
				return err
			}
		}
	}
	var connected sync.WaitGroup
	for _, h := range agents {
		b.hosts.SetPending(h.Name, true)
		b.adopting.Add(1)
		connected.Add(1)
		go func() {
			defer b.adopting.Done()
			defer b.hosts.SetPending(h.Name, false)
			err := b.connectHost(h)
			connected.Done()
			if err != nil {
				b.log.WithError(err).WithField("host", h.Name).Error("connect to host")
				return
			}
			for _, ad := range remote[h.Name] {
				if err := b.adoptNode(b.adoptCtx, ad.a, ad.n, ad.spec); err != nil {
					b.log.WithError(err).WithField("host", h.Name).Error("adopt nodes")
					return
				}
			}
		}()
	}
	// Agents that answer are connected within a moment: wait that long, so
	// the API opens with them in place, and not a moment for the others.
	done := make(chan struct{})
	go func() { connected.Wait(); close(done) }()
	t := time.NewTimer(connectWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// connectWait is how long a starting broker waits for its agents to connect
// before it serves without those still connecting.
const connectWait = time.Second

// adoption is one node to take back under supervision.
type adoption struct {
	a    store.Addon
	n    store.Node
	spec provisioner.NodeSpec
}

// adoptNode takes one node back under supervision, restarting it in place
// when it is not running; a node that cannot be restarted fails its add-on.
func (b *Hosts) adoptNode(ctx context.Context, a store.Addon, n store.Node, spec provisioner.NodeSpec) error {
	log := b.log.WithFields(map[string]any{"addon": a.Name, "node": n.Name})
	pn, err := b.hosts.Of(n).Adopt(ctx, spec)
	if err != nil && n.Host != b.localName && fault.KindOf(err) == fault.Unavailable {
		// An agent that does not answer yet: its nodes may well be
		// serving. The reconciler adopts them once it answers.
		log.WithError(err).Warn("host unreachable; node adopted later")
		return nil
	}
	if err != nil {
		log.WithError(err).Error("adopt node")
		reason := "node " + n.Name + " could not be restarted"
		return b.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.SetNodeState(ctx, n.ID, store.NodeFailed, 0); err != nil {
				return err
			}
			if err := tx.SetAddonState(ctx, a.ID, api.StateFailed, reason); err != nil {
				return err
			}
			return tx.AddEvent(ctx, a.ID, a.Name, "node.adopt_failed", reason)
		})
	}
	if err := b.store.UpdateNodeRuntime(ctx, n.ID, pn.Addr, pn.Dir, pn.PID, store.NodeRunning); err != nil {
		return err
	}
	if pn.PID != n.PID {
		log.WithField("pid", pn.PID).Info("node was not running; restarted in place")
		return b.store.AddEvent(ctx, a.ID, a.Name, "node.restarted", n.Name+" was down while the broker was away; restarted in place")
	}
	log.Debug("node adopted")
	return nil
}
