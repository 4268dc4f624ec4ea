package broker

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/broker/changes"
	"larder/fault"
	"larder/store"
)

// placeHosts picks hosts for n new nodes of one add-on: distinct hosts when
// there are enough, the least loaded first, never a draining or unreachable
// host. With fewer hosts than nodes, nodes share the least loaded ones.
func (b *Hosts) placeHosts(ctx context.Context, q store.Q, n int) ([]string, error) {
	counts, err := q.NodeCounts(ctx)
	if err != nil {
		return nil, err
	}
	draining, err := b.drainingHosts(ctx, q)
	if err != nil {
		return nil, err
	}
	var cands, drained, down []string
	for _, h := range b.hosts.All() {
		name := h.Name()
		switch {
		case name == b.localName && b.cfg.NoLocalNodes:
		case draining[name]:
			drained = append(drained, name)
		case !b.hosts.Answers(name):
			down = append(down, name)
		default:
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return nil, noHostError(drained, down)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if counts[cands[i]] != counts[cands[j]] {
			return counts[cands[i]] < counts[cands[j]]
		}
		return cands[i] < cands[j]
	})
	out := make([]string, n)
	for i := range out {
		out[i] = cands[i%len(cands)]
	}
	return out, nil
}

// noHostError says why no host can take a new node, naming the hosts that
// drain (and how to take them back) and those that do not answer.
func noHostError(drained, down []string) error {
	var why []string
	if len(drained) > 0 {
		cmds := make([]string, len(drained))
		for i, h := range drained {
			cmds[i] = "`larder hosts:undrain " + h + "`"
		}
		why = append(why, fmt.Sprintf("%s %s draining (%s takes it back)", strings.Join(drained, ", "), isAre(len(drained)), strings.Join(cmds, ", ")))
	}
	if len(down) > 0 {
		why = append(why, fmt.Sprintf("%s %s unreachable", strings.Join(down, ", "), isAre(len(down))))
	}
	if len(why) == 0 {
		why = append(why, "there is no host; start one with `larder agent`")
	}
	return fault.E(fault.Unavailable, "no host can take a new node: %s", strings.Join(why, "; "))
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func (b *Hosts) drainingHosts(ctx context.Context, q store.Q) (map[string]bool, error) {
	hosts, err := q.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, h := range hosts {
		out[h.Name] = h.Draining
	}
	return out, nil
}

// connectHost builds the client of a registered agent and adds it to the set.
func (b *Hosts) connectHost(h store.Host) error {
	rh, err := b.cfg.NewRemoteHost(h, b.events)
	if err != nil {
		return err
	}
	if old := b.hosts.Put(rh); old != nil {
		old.Close(context.Background())
	}
	wasDown := b.hosts.DownFor(h.Name, time.Now()) > 0
	b.hosts.Observe(h.Name, true, time.Now())
	if wasDown {
		b.pairs.Repush(h.Name) // it missed what changed while it was away
	}
	return nil
}

// registerHost answers POST /hosts: an agent announcing itself.
func (b *Hosts) RegisterHost(ctx context.Context, req api.HostRegister) (api.Host, error) {
	if err := attach.CheckAddonName(req.Name); err != nil || req.Name == b.localName {
		return api.Host{}, fault.E(fault.Invalid, "invalid host name %q: use lowercase letters, digits and dashes, not %q", req.Name, b.localName)
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return api.Host{}, fault.E(fault.Invalid, "invalid agent URL %q: use http://HOST:PORT", req.URL)
	}
	if req.Token == "" {
		return api.Host{}, fault.E(fault.Invalid, "an agent token is required")
	}
	h := store.Host{Name: req.Name, URL: req.URL, Token: req.Token}
	if err := b.store.UpsertHost(ctx, &h); err != nil {
		return api.Host{}, err
	}
	if err := b.connectHost(h); err != nil {
		return api.Host{}, err
	}
	b.log.WithField("host", h.Name).Info("host registered")
	return api.Host{Name: h.Name, URL: h.URL, State: "up"}, nil
}

// listHosts answers `larder hosts`: every host with its state and node count.
func (b *Hosts) ListHosts(ctx context.Context) ([]api.Host, error) {
	counts, err := b.store.NodeCounts(ctx)
	if err != nil {
		return nil, err
	}
	draining, err := b.drainingHosts(ctx, b.store)
	if err != nil {
		return nil, err
	}
	spareNodes, err := b.spares.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	if hs, err := b.store.Hosts(ctx); err == nil {
		for _, h := range hs {
			urls[h.Name] = h.URL
		}
	}
	out := []api.Host{}
	for _, h := range b.hosts.All() {
		e := api.Host{Name: h.Name(), URL: urls[h.Name()], Addr: h.Addr(), Nodes: counts[h.Name()], Spares: spareNodes[h.Name()], State: "up",
			Engine: h.Engine().Name + " " + h.Engine().Version, Local: h.Name() == b.localName}
		if e.Local && b.cfg.NoLocalNodes && e.Nodes == 0 {
			e.State = "not used (--no-local-nodes)"
			out = append(out, e)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := h.Status(sctx); err != nil {
			e.State = "unreachable"
		}
		cancel()
		if b.hosts.IsPending(h.Name()) {
			e.State += ", adopting its nodes (pending)"
		}
		if draining[h.Name()] {
			e.State += ", draining"
			e.Draining = true
		}
		out = append(out, e)
	}
	// A starting broker's agents it is still connecting to.
	for _, name := range b.hosts.PendingNotConnected() {
		out = append(out, api.Host{Name: name, URL: urls[name], Nodes: counts[name], State: "connecting, adopting its nodes (pending)"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// drainHost answers `larder hosts:drain HOST`: no new node goes there, and
// every primary on it hands over to its standby with a planned switchover.
// A primary whose standby is on the same host (or that has none) cannot
// move: it is listed with why, and the host drains all the same.
func (b *Hosts) DrainHost(ctx context.Context, hostName string) (api.DrainResult, error) {
	name := hostName
	if _, ok := b.hosts.Get(name); !ok {
		return api.DrainResult{}, fault.E(fault.NotFound, "no host named %s", name)
	}
	if err := b.store.SetHostDraining(ctx, name, true); err != nil {
		return api.DrainResult{}, err
	}
	nodes, err := b.store.NodesOnHost(ctx, name)
	if err != nil {
		return api.DrainResult{}, err
	}
	ops := []api.Operation{}
	var skipped []string
	for _, n := range nodes {
		if n.Role != store.RolePrimary {
			continue
		}
		a, err := b.store.AddonByID(ctx, n.AddonID)
		if err != nil {
			return api.DrainResult{}, err
		}
		if a.AppName == apps.SparesApp {
			// A spare holds no one's data: it goes, and the next starts
			// on a host that is not draining.
			if err := b.spares.Destroy(ctx, a); err != nil {
				skipped = append(skipped, fmt.Sprintf("spare %s: %s", a.Name, fault.Message(err)))
			}
			continue
		}
		if why := b.cannotMove(ctx, a, name); why != "" {
			skipped = append(skipped, a.Name+": "+why)
			continue
		}
		op, err := b.pairs.StartSwitchover(ctx, a)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %s", a.Name, fault.Message(err)))
			continue
		}
		ops = append(ops, changes.OperationJSON(op))
	}
	b.log.WithFields(map[string]any{"host": name, "moving": len(ops), "stuck": len(skipped)}).Info("host draining")
	return api.DrainResult{Host: name, Operations: ops, Skipped: skipped}, nil
}

// cannotMove says why a's primary cannot leave host by a switchover, or "".
func (b *Hosts) cannotMove(ctx context.Context, a store.Addon, host string) string {
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return fault.Message(err)
	}
	_, standby, ok := pair(nodes)
	switch {
	case !ok:
		return fmt.Sprintf("it has no standby to hand over to (plan %s:%s); its data stays on %s", a.Service, a.Plan, host)
	case standby.Host == host:
		return fmt.Sprintf("its standby is on %s too; a switchover would not move it", host)
	}
	return ""
}

// undrainHost answers `larder hosts:undrain HOST`: new nodes may go there
// again.
func (b *Hosts) UndrainHost(ctx context.Context, hostName string) (api.Host, error) {
	name := hostName
	h, ok := b.hosts.Get(name)
	if !ok {
		return api.Host{}, fault.E(fault.NotFound, "no host named %s", name)
	}
	if err := b.store.SetHostDraining(ctx, name, false); err != nil {
		return api.Host{}, err
	}
	b.log.WithField("host", name).Info("host takes new nodes again")
	b.spares.Refill()
	state := "up"
	if !b.hosts.IsUp(name) {
		state = "unreachable"
	}
	return api.Host{Name: name, Addr: h.Addr(), State: state, Local: name == b.localName}, nil
}
