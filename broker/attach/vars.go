package attach

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"

	"larder/api"
	"larder/fault"
	"larder/ha/coord"
	"larder/store"
)

// Endpoint is where an add-on's URLs point: the edge (its host and the two
// ports claimed for the add-on's life), or, for an add-on without edge
// ports (a broker that runs no edge), its primary node, with no TLS port.
type Endpoint struct {
	Host    string
	Port    int
	TLSPort int // 0: no TLS URL
}

// URL is the URL an app uses: redis://USER:PASSWORD@HOST:PORT. The user is
// always written out (never `redis://:pw@…`, which many clients reject).
func (ep Endpoint) URL(user, password string) string {
	return endpointURL("redis", user, password, ep.Host, ep.Port)
}

// TLSURL is the same for the edge's TLS port (rediss://), "" when there is
// none.
func (ep Endpoint) TLSURL(user, password string) string {
	if ep.TLSPort == 0 {
		return ""
	}
	return endpointURL("rediss", user, password, ep.Host, ep.TLSPort)
}

func endpointURL(scheme, user, password, host string, port int) string {
	u := url.URL{Scheme: scheme, User: url.UserPassword(user, password), Host: net.JoinHostPort(host, strconv.Itoa(port))}
	return u.String()
}

// EndpointOf is where a's URLs point: its edge once it has its ports (a
// failover, switchover, plan change, drain or fork cut-over changes
// nothing then), else its primary node. ok is false when it has neither.
func EndpointOf(ctx context.Context, q store.Q, a store.Addon) (Endpoint, bool, error) {
	e, err := q.EdgeOf(ctx, a.ID)
	switch {
	case err == nil && e.Claimed():
		return Endpoint{Host: e.Host, Port: e.Port, TLSPort: e.TLSPort}, true, nil
	case err != nil && fault.KindOf(err) != fault.NotFound:
		return Endpoint{}, false, err
	}
	nodes, err := q.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return Endpoint{}, false, err
	}
	n, ok := coord.PrimaryNode(nodes)
	return Endpoint{Host: n.Address, Port: n.Port}, ok, nil
}

// Vars lists the config var names an attachment exports: the URL and the
// TLS URL (set when the add-on has an edge).
func Vars(name string) []string { return []string{name + "_URL", name + "_TLS_URL"} }

// AppVars derives an app's config vars: the vars its users set, overlaid with
// the vars of every attachment whose add-on has an endpoint. Reading both in
// one query context (a transaction when q is one) gives a consistent view.
func AppVars(ctx context.Context, q store.Q, appID string) (api.ConfigVars, error) {
	user, err := q.UserVars(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("read user vars: %w", err)
	}
	out := api.ConfigVars(user)
	atts, err := q.AttachmentsOfApp(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("read attachments: %w", err)
	}
	for _, at := range atts {
		a, err := q.AddonByID(ctx, at.AddonID)
		if err != nil {
			return nil, err
		}
		// A failed add-on keeps its vars: the app's config does not change
		// under it while an operator looks.
		if a.State != api.StateProvisioned && a.State != api.StateFailed {
			continue
		}
		ep, ok, err := EndpointOf(ctx, q, a)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out[at.Name+"_URL"] = ep.URL(a.CustomerUser, a.CustomerPassword)
		if u := ep.TLSURL(a.CustomerUser, a.CustomerPassword); u != "" {
			out[at.Name+"_TLS_URL"] = u
		}
	}
	return out, nil
}

// ManagedVar reports which attachment on the app owns var name, if any.
func ManagedVar(atts []store.Attachment, name string) (store.Attachment, bool) {
	for _, at := range atts {
		for _, v := range Vars(at.Name) {
			if v == name {
				return at, true
			}
		}
	}
	return store.Attachment{}, false
}

// CheckVarPatch validates a config:set/unset request against the app's attachments.
func CheckVarPatch(patch api.ConfigPatch, atts []store.Attachment) error {
	if len(patch) == 0 {
		return fault.E(fault.Invalid, "no config vars given; use KEY=VALUE to set and KEY to unset")
	}
	names := make([]string, 0, len(patch))
	for k := range patch {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if len(k) > maxVarName || !varNameRe.MatchString(k) {
			return fault.E(fault.Invalid, "invalid config var name %q: use up to %d letters, digits and underscores, not starting with a digit", k[:min(len(k), maxVarName)], maxVarName)
		}
		if at, ok := ManagedVar(atts, k); ok {
			return fault.E(fault.Conflict, "%s is set by add-on %s (attachment %s); use `larder addons:detach` or `larder redis:promote` to change it", k, at.AddonName, at.Name)
		}
	}
	return nil
}
