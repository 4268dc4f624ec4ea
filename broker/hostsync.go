package broker

import (
	"context"
	"time"

	"larder/store"
)

// An agent registers with one broker of those sharing the store (any that
// answers, from its --broker list), yet every broker serves its nodes and
// the coordinator decides about them: each broker connects to the agents
// the store records, whichever broker they registered with.

// agentAt is where, and with which token, an agent was connected to.
type agentAt struct{ url, token string }

// followRegistry connects, every reconcile interval until the broker
// closes, to the agents registered through other brokers.
func (b *Hosts) followRegistry() {
	if b.cfg.NewRemoteHost == nil {
		return
	}
	b.adopting.Add(1)
	go func() {
		defer b.adopting.Done()
		t := time.NewTicker(b.cfg.ReconcileInterval)
		defer t.Stop()
		for {
			select {
			case <-b.adoptCtx.Done():
				return
			case <-t.C:
			}
			b.syncHosts(b.adoptCtx)
		}
	}()
}

// syncHosts connects to each agent the store records that this broker has
// not connected to, or knows at another URL or with another token (it
// registered again, elsewhere).
func (b *Hosts) syncHosts(ctx context.Context) {
	hosts, err := b.store.Hosts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.WithError(err).Warn("read the registered hosts")
		}
		return
	}
	for _, h := range hosts {
		if !b.registeredElsewhere(h) {
			continue
		}
		if err := b.connectHost(h); err != nil {
			b.log.WithError(err).WithField("host", h.Name).Warn("connect to a host registered with another broker")
			continue
		}
		b.log.WithField("host", h.Name).Info("host registered with another broker; connected")
	}
}

// registeredElsewhere reports whether h is an agent this broker is not
// connected to as the store records it. Brokers' own hosts are not agents;
// one being connected at start is left to that.
func (b *Hosts) registeredElsewhere(h store.Host) bool {
	if h.Name == b.localName || h.URL == localHostURL || b.hosts.IsPending(h.Name) {
		return false
	}
	b.agentsMu.Lock()
	defer b.agentsMu.Unlock()
	at, ok := b.agents[h.Name]
	return !ok || at != agentAt{h.URL, h.Token}
}

// localHostURL stands for a broker's own host in the store's registry.
const localHostURL = "local"
