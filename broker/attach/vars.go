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

// URL is the URL an app uses: redis://USER:PASSWORD@HOST:PORT. The user is
// always written out (never `redis://:pw@…`, which many clients reject).
func URL(a store.Addon, n store.Node) string {
	u := url.URL{
		Scheme: "redis",
		User:   url.UserPassword(a.CustomerUser, a.CustomerPassword),
		Host:   net.JoinHostPort(n.Address, strconv.Itoa(n.Port)),
	}
	return u.String()
}

// Vars lists the config var names an attachment exports.
func Vars(name string) []string { return []string{name + "_URL"} }

// AppVars derives an app's config vars: the vars its users set, overlaid with
// the vars of every attachment whose add-on has a primary. Reading both in one
// query context (a transaction when q is one) gives a consistent view.
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
		nodes, err := q.NodesOfAddon(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if n, ok := coord.PrimaryNode(nodes); ok {
			out[at.Name+"_URL"] = URL(a, n)
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
