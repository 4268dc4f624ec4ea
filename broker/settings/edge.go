package settings

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"larder/api"
	"larder/broker/apps"
	"larder/edge"
	"larder/fault"
	"larder/store"
)

// EdgeAccess reports who may connect to an add-on through the edge.
func (b *Settings) EdgeAccess(ctx context.Context, appName, addonName string) (api.EdgeAccess, error) {
	a, err := apps.Resolve(ctx, b.store, appName, addonName)
	if err != nil {
		return api.EdgeAccess{}, err
	}
	e, err := b.edgeOf(ctx, b.store, a)
	if err != nil {
		return api.EdgeAccess{}, err
	}
	return accessJSON(a, e), nil
}

// ChangeEdgeAccess adds and removes allowlist entries and sets TLS-only.
// Every entry is checked first (edge.ParseCIDR): a bad one is refused with
// the reason and nothing changes. An addition to the default list starts
// from it, so allowing one network keeps the private ones; a change that
// would leave the list empty is refused (empty means the default). The
// edge applies the result to new and open connections.
func (b *Settings) ChangeEdgeAccess(ctx context.Context, appName, addonName string, p api.EdgeAccessPatch) (api.EdgeAccess, error) {
	if len(p.Add) == 0 && len(p.Remove) == 0 && p.TLSOnly == nil {
		return api.EdgeAccess{}, fault.E(fault.Invalid, "nothing to change: give CIDRs to add or remove, or tls_only")
	}
	add, err := edge.ParseAllowlist(p.Add)
	if err != nil {
		return api.EdgeAccess{}, err
	}
	remove, err := edge.ParseAllowlist(p.Remove)
	if err != nil {
		return api.EdgeAccess{}, err
	}
	var out api.EdgeAccess
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		a, err := apps.Resolve(ctx, tx, appName, addonName)
		if err != nil {
			return err
		}
		e, err := b.edgeOf(ctx, tx, a)
		if err != nil {
			return err
		}
		list := e.Allowlist
		if len(list) == 0 {
			list = defaultAllowlist()
		}
		list = slices.Clone(list)
		for _, r := range remove {
			i := slices.Index(list, r.String())
			if i < 0 {
				return fault.E(fault.Invalid, "%s is not in %s's allowlist (%s)", r, a.Name, strings.Join(list, ", "))
			}
			list = slices.Delete(list, i, i+1)
		}
		for _, n := range add {
			if !slices.Contains(list, n.String()) {
				list = append(list, n.String())
			}
		}
		if len(list) == 0 {
			return fault.E(fault.Invalid, "the allowlist of %s cannot be empty (empty means the default: loopback and private networks); add the networks to allow before removing the last one", a.Name)
		}
		if slices.Equal(list, defaultAllowlist()) {
			list = nil // back to the default, which follows larder's
		}
		tlsOnly := e.TLSOnly
		if p.TLSOnly != nil {
			tlsOnly = *p.TLSOnly
		}
		if err := tx.SetEdgeAccess(ctx, a.ID, list, tlsOnly); err != nil {
			return err
		}
		e.Allowlist, e.TLSOnly = list, tlsOnly
		out = accessJSON(a, e)
		return tx.AddEvent(ctx, a.ID, a.Name, "edge.access", fmt.Sprintf("allowlist %s; TLS only: %v", strings.Join(out.Allowlist, ", "), tlsOnly))
	})
	return out, err
}

// edgeOf is a's edge, or a clear error when it has none.
func (b *Settings) edgeOf(ctx context.Context, q store.Q, a store.Addon) (store.Edge, error) {
	e, err := q.EdgeOf(ctx, a.ID)
	if fault.KindOf(err) == fault.NotFound {
		return e, fault.E(fault.Conflict, "%s has no edge endpoint: this broker runs without one (--edge-ports)", a.Name)
	}
	return e, err
}

func accessJSON(a store.Addon, e store.Edge) api.EdgeAccess {
	out := api.EdgeAccess{Addon: api.Ref{ID: a.ID, Name: a.Name}, Allowlist: e.Allowlist, TLSOnly: e.TLSOnly}
	if len(out.Allowlist) == 0 {
		out.Allowlist, out.Default = defaultAllowlist(), true
	}
	return out
}

func defaultAllowlist() []string {
	out := make([]string, 0, len(edge.DefaultAllowlist))
	for _, p := range edge.DefaultAllowlist {
		out = append(out, p.String())
	}
	return out
}
