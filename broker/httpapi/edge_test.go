package httpapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"larder/api"
	"larder/broker"
	"larder/fault"
)

// TestEdgeURLsAndAccess: an add-on's URLs name the edge's host and the two
// ports it claimed; its allowlist starts as the default, an addition
// starts from it, bad input is refused with the reason and changes
// nothing, and TLS-only is kept.
func TestEdgeURLsAndAccess(t *testing.T) {
	_, c := feedBroker(t, func(cfg *broker.Config) {
		// Claimed in the store only: no edge listens in this package.
		cfg.Edge = broker.EdgeConfig{Host: "edge.test", PortMin: 14900, PortMax: 14999, CAPath: "/ca.crt", CACert: "PEM"}
	})
	ctx := context.Background()
	name := miniOn(t, c, "web").Name
	vars, err := c.ConfigVars(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(vars["REDIS_URL"], "@edge.test:14900") || !strings.HasPrefix(vars["REDIS_URL"], "redis://default:") ||
		!strings.HasSuffix(vars["REDIS_TLS_URL"], "@edge.test:14901") || !strings.HasPrefix(vars["REDIS_TLS_URL"], "rediss://default:") {
		t.Fatalf("vars = %v; want REDIS_URL and REDIS_TLS_URL on the edge's ports", vars)
	}
	cred, err := c.Credentials(ctx, "web", name)
	if err != nil || cred.URL != vars["REDIS_URL"] || cred.TLSURL != vars["REDIS_TLS_URL"] || cred.CAPath != "/ca.crt" || cred.CACert != "PEM" {
		t.Fatalf("credentials = %+v, %v", cred, err)
	}

	acc, err := c.EdgeAccess(ctx, "web", name)
	if err != nil || !acc.Default || acc.TLSOnly || !slices.Contains(acc.Allowlist, "10.0.0.0/8") {
		t.Fatalf("access = %+v, %v; want the default list", acc, err)
	}
	deflt := acc.Allowlist
	acc, err = c.ChangeEdgeAccess(ctx, "web", name, api.EdgeAccessPatch{Add: []string{"203.0.113.7"}})
	if want := append(slices.Clone(deflt), "203.0.113.7/32"); err != nil || acc.Default || !slices.Equal(acc.Allowlist, want) {
		t.Fatalf("after --add = %+v, %v; want %v", acc, err, want)
	}
	bad := []struct {
		name string
		p    api.EdgeAccessPatch
		kind fault.Kind
		want string
	}{
		{"bits after the prefix", api.EdgeAccessPatch{Add: []string{"198.51.100.0/24", "10.0.0.1/8"}}, fault.Invalid, "did you mean 10.0.0.0/8?"},
		{"not a network", api.EdgeAccessPatch{Remove: []string{"office"}}, fault.Invalid, `"office" is not an IP address or CIDR`},
		{"not in the list", api.EdgeAccessPatch{Remove: []string{"198.51.100.0/24"}}, fault.Invalid, "is not in"},
		{"nothing", api.EdgeAccessPatch{}, fault.Invalid, "nothing to change"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ChangeEdgeAccess(ctx, "web", name, tt.p)
			if fault.KindOf(err) != tt.kind || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want %v with %q", err, tt.kind, tt.want)
			}
		})
	}
	if _, err := c.EdgeAccess(ctx, "web", "no-such-addon"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("an unknown add-on: %v, want NotFound", err)
	}
	on := true
	acc, err = c.ChangeEdgeAccess(ctx, "web", name, api.EdgeAccessPatch{Remove: slices.Clone(deflt), TLSOnly: &on})
	if err != nil || !slices.Equal(acc.Allowlist, []string{"203.0.113.7/32"}) || !acc.TLSOnly {
		t.Fatalf("after removing the defaults = %+v, %v; want 203.0.113.7/32 alone, TLS only", acc, err)
	}
	if _, err := c.ChangeEdgeAccess(ctx, "web", name, api.EdgeAccessPatch{Remove: []string{"203.0.113.7/32"}}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("removing the last entry: %v, want Invalid", err)
	}
	if got, err := c.EdgeAccess(ctx, "web", name); err != nil || fmt.Sprint(got.Allowlist) != "[203.0.113.7/32]" || !got.TLSOnly {
		t.Errorf("after the refusals = %+v, %v; want them to have changed nothing", got, err)
	}
}
