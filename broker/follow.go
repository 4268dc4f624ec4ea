package broker

import (
	"context"
	"fmt"
	"net"
	"strings"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/broker/hostset"
	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// A follower (redis:follow) is an add-on whose primary replicates from a
// leader outside larder: read-only for its apps (writes answer READONLY, as on
// any replica), with its standby, on HA plans, replicating from the primary as
// usual. The leader and its password are in the store, rendered into the
// primary's files, so the follow survives a restart in place and a broker
// restart. redis:unfollow makes it an independent primary again, with the
// data it has: a cut-over for migrations into larder. Config vars never
// change.

// maxFollowChain bounds the walk along followers when looking for a loop.
const maxFollowChain = 16

// follow answers redis:follow.
func (b *Addons) Follow(ctx context.Context, appName, addonName string, req api.FollowRequest) (api.FollowResult, error) {
	a, err := apps.Settled(ctx, b.store, appName, addonName)
	if err != nil {
		return api.FollowResult{}, err
	}
	res, err := b.startFollowing(ctx, a, req)
	if err != nil {
		return api.FollowResult{}, err
	}
	return res, nil
}

// startFollowing checks the leader (its URL, that it answers with its
// credentials, allows replication, fits the plan and is not the add-on itself
// or a loop), records it and makes the primary follow it.
func (b *Addons) startFollowing(ctx context.Context, a store.Addon, req api.FollowRequest) (api.FollowResult, error) {
	src, err := engine.ParseSourceURL(req.URL)
	if err != nil {
		return api.FollowResult{}, err
	}
	if src.TLS {
		return api.FollowResult{}, fault.E(fault.Invalid, "larder's replication links do not speak TLS: follow a redis:// URL (--fork copies from rediss:// sources)")
	}
	if req.Confirm != a.AppName {
		return api.FollowResult{}, fault.E(fault.Confirmation, "following %s replaces the data of %s with the leader's; to proceed, re-run with --confirm %s", src, a.Name, a.AppName)
	}
	unlock := b.jobs.Lock(a.ID)
	defer unlock()
	if a, err = b.store.AddonByID(ctx, a.ID); err != nil {
		return api.FollowResult{}, err
	}
	if err := b.checkFollowLoop(ctx, a, src.Endpoint); err != nil {
		return api.FollowResult{}, err
	}
	p, err := b.nodes.PlanOf(a)
	if err != nil {
		return api.FollowResult{}, err
	}
	info, err := inspectSource(ctx, src, a.Service, p)
	if err != nil {
		return api.FollowResult{}, err
	}
	if info.SyncKnown && !info.SyncAllowed {
		return api.FollowResult{}, fault.E(fault.Invalid, "%s refuses replication (%s): a follower needs a user allowed +psync +replconf +ping", src, info.SyncRefusal)
	}
	prev, perr := b.store.FollowOf(ctx, a.ID)
	f := store.Follow{AddonID: a.ID, Leader: src.Label, Host: src.Addr, Port: src.Port, Username: src.User.Name, Password: src.User.Password}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetFollow(ctx, &f); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "follow.start", fmt.Sprintf("following %s: read-only until redis:unfollow", src))
	})
	if err != nil {
		return api.FollowResult{}, err
	}
	if err := b.ApplyFollow(ctx, a); err != nil {
		// Back to what it was: the previous leader, or none.
		uctx := context.WithoutCancel(ctx)
		if perr == nil {
			b.store.SetFollow(uctx, &prev)
		} else {
			b.store.DeleteFollow(uctx, a.ID)
		}
		if rerr := b.ApplyFollow(uctx, a); rerr != nil {
			b.log.WithError(rerr).WithField("addon", a.Name).Error("undo a failed follow")
		}
		b.store.AddEvent(uctx, a.ID, a.Name, "follow.failed", fmt.Sprintf("could not follow %s: %s", src, fault.Message(err)))
		return api.FollowResult{}, err
	}
	b.log.WithField("addon", a.Name).Info("following an external leader")
	return api.FollowResult{Addon: api.Ref{ID: a.ID, Name: a.Name}, Follow: b.followInfo(ctx, a, f),
		Message: fmt.Sprintf("%s now follows %s; it is read-only until `larder redis:unfollow %s`", a.Name, src, a.Name)}, nil
}

// unfollow answers redis:unfollow: the add-on becomes an independent primary
// with the data it has.
func (b *Addons) Unfollow(ctx context.Context, appName, addonName string) (api.FollowResult, error) {
	a, err := apps.Settled(ctx, b.store, appName, addonName)
	if err != nil {
		return api.FollowResult{}, err
	}
	unlock := b.jobs.Lock(a.ID)
	defer unlock()
	f, err := b.store.FollowOf(ctx, a.ID)
	if fault.KindOf(err) == fault.NotFound {
		return api.FollowResult{}, fault.E(fault.Conflict, "%s follows no leader; `larder redis:follow` makes it a follower", a.Name)
	}
	if err != nil {
		return api.FollowResult{}, err
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteFollow(ctx, a.ID); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "follow.stop", fmt.Sprintf("stopped following %s; now an independent primary", f.Leader))
	})
	if err != nil {
		return api.FollowResult{}, err
	}
	if err := b.ApplyFollow(ctx, a); err != nil {
		// Still following: keep the leader recorded, so files and store agree.
		uctx := context.WithoutCancel(ctx)
		b.store.SetFollow(uctx, &f)
		b.ApplyFollow(uctx, a)
		return api.FollowResult{}, err
	}
	b.log.WithField("addon", a.Name).Info("stopped following its leader")
	return api.FollowResult{Addon: api.Ref{ID: a.ID, Name: a.Name},
		Message: fmt.Sprintf("%s stopped following %s; it is an independent primary and takes writes", a.Name, f.Leader)}, nil
}

// ApplyFollow makes the primary match the store: its files are rendered
// (with the leader or without), then the running node follows the leader or
// stops following.
func (b *Addons) ApplyFollow(ctx context.Context, a store.Addon) error {
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if n.Role != store.RolePrimary {
			continue
		}
		if err := b.hosts.Of(n).Reconfigure(ctx, specs[i]); err != nil {
			return fault.Wrap(fault.Unavailable, err, "rewrite the files of "+n.Name)
		}
		if l := specs[i].Leader; l != nil {
			return engine.Follow(ctx, attach.Target(a, n), *l, specs[i].LeaderUser)
		}
		return engine.StopFollowing(ctx, attach.Target(a, n), specs[i].Repl)
	}
	return fault.E(fault.Unavailable, "%s has no primary", a.Name)
}

// addLeader puts the leader of a following add-on into its primary's spec.
// NodeSpecs calls it, so every restart and rewrite renders the follow.
func addLeader(ctx context.Context, q store.Q, addonID string, nodes []store.Node, specs []provisioner.NodeSpec) error {
	f, err := q.FollowOf(ctx, addonID)
	if fault.KindOf(err) == fault.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if n.Role == store.RolePrimary {
			specs[i].Leader = &engine.Endpoint{Addr: f.Host, Port: f.Port}
			specs[i].LeaderUser = engine.User{Name: f.Username, Password: f.Password}
		}
	}
	return nil
}

// checkFollowLoop refuses a leader that is the add-on itself (one of its own
// nodes), or that follows it, directly or along a chain of larder followers.
func (b *Addons) checkFollowLoop(ctx context.Context, a store.Addon, leader engine.Endpoint) error {
	chain := []string{a.Name}
	e := leader
	for range maxFollowChain {
		n, ok, err := b.nodeAt(ctx, e)
		if err != nil || !ok {
			return err // a leader outside larder ends the chain
		}
		if n.AddonID == a.ID {
			if len(chain) == 1 {
				return fault.E(fault.Invalid, "%s cannot follow itself: %s is its own %s node", a.Name, e, n.Role)
			}
			return fault.E(fault.Invalid, "following that leader would make a loop: %s → %s", strings.Join(chain, " → "), a.Name)
		}
		other, err := b.store.AddonByID(ctx, n.AddonID)
		if err != nil {
			return err
		}
		chain = append(chain, other.Name)
		f, err := b.store.FollowOf(ctx, other.ID)
		if fault.KindOf(err) == fault.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		e = engine.Endpoint{Addr: f.Host, Port: f.Port}
	}
	return fault.E(fault.Invalid, "the leader is at the end of more than %d followers: %s", maxFollowChain, strings.Join(chain, " → "))
}

// nodeAt finds the larder node listening at e, by its address or by what
// e's host name resolves to (localhost is 127.0.0.1); an add-on's edge
// endpoint stands for its primary.
func (b *Addons) nodeAt(ctx context.Context, e engine.Endpoint) (store.Node, bool, error) {
	addrs := []string{e.Addr}
	if net.ParseIP(e.Addr) == nil {
		rctx, cancel := context.WithTimeout(ctx, hostset.LiveTimeout)
		ips, err := net.DefaultResolver.LookupHost(rctx, e.Addr)
		cancel()
		if err == nil {
			addrs = append(addrs, ips...)
		}
	}
	for _, ad := range addrs {
		n, err := b.store.NodeAt(ctx, ad, e.Port)
		if err == nil {
			return n, true, nil
		}
		if fault.KindOf(err) != fault.NotFound {
			return store.Node{}, false, err
		}
	}
	return b.edgeNodeAt(ctx, addrs, e.Port)
}

// followInfo reads a follower's link: up or down and since when, and how far
// behind its leader it is (asking the leader for its offset).
func (b *Addons) followInfo(ctx context.Context, a store.Addon, f store.Follow) *api.FollowInfo {
	fi := &api.FollowInfo{Leader: f.Leader, Since: f.CreatedAt, LagBytes: -1}
	nodes, err := b.store.NodesOfAddon(ctx, a.ID)
	if err != nil {
		fi.Error = fault.Message(err)
		return fi
	}
	n, ok := primaryNode(nodes)
	if !ok {
		fi.Error = "no running primary"
		return fi
	}
	lctx, cancel := context.WithTimeout(ctx, hostset.LiveTimeout)
	defer cancel()
	st, err := engine.FollowerLink(lctx, attach.Target(a, n))
	if err != nil {
		fi.Error = fault.Message(err)
		return fi
	}
	fi.Live, fi.Role = true, st.Role
	fi.LinkUp, fi.SyncInProgress = st.LinkUp, st.SyncInProgress
	fi.LastIOSecondsAgo, fi.LinkDownSeconds = st.LastIOSecondsAgo, st.LinkDownSeconds
	leader := engine.Source{Endpoint: engine.Endpoint{Addr: f.Host, Port: f.Port},
		User: engine.User{Name: f.Username, Password: f.Password}, Label: f.Leader}
	if off, err := engine.SourceOffset(lctx, leader); err == nil && st.LinkUp {
		fi.LagBytes = max(off-st.Offset, 0)
	}
	return fi
}

// AddSourceInfo fills redis:info's fork and follow parts; they show while a
// fork runs too, before the add-on is available.
func (b *Addons) AddSourceInfo(ctx context.Context, info *api.RedisInfo, a store.Addon) {
	if f, err := b.store.ForkOf(ctx, a.ID); err == nil {
		info.Fork = forkInfo(f)
	}
	if f, err := b.store.FollowOf(ctx, a.ID); err == nil {
		info.Follow = b.followInfo(ctx, a, f)
	}
}
