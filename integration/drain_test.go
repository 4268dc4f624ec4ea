package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"larder/api"
	"larder/fault"
)

// hostState returns how `larder hosts --json` shows host.
func hostState(t *testing.T, b *Broker, host string) api.Host {
	t.Helper()
	r := b.MustLarder("hosts", "--json")
	var hosts []api.Host
	if err := json.Unmarshal([]byte(r.Stdout), &hosts); err != nil {
		t.Fatalf("hosts --json: %v\n%s", err, r.Stdout)
	}
	for _, h := range hosts {
		if h.Name == host {
			return h
		}
	}
	t.Fatalf("hosts --json lists no %s: %s", host, r.Stdout)
	return api.Host{}
}

// TestDrainOnlyHost: draining the only host moves nothing, says what could
// not move and why (exit 1), shows the host as draining, makes creates fail
// with a message naming it and hosts:undrain, and hosts:undrain takes it
// back.
func TestDrainOnlyHost(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--as", "CACHE", "--wait")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait") // --wait: its standby is in sync

	r := b.Larder("hosts:drain", "local")
	out := r.Stdout + r.Stderr
	t.Logf("hosts:drain local:\n%s", out)
	if r.Code != 1 {
		t.Errorf("hosts:drain of the only host: exit %d, want 1\n%s", r.Code, out)
	}
	for _, want := range []string{"0 primaries moved", "has no standby", "standby is on local too", "hosts:undrain local"} {
		if !strings.Contains(out, want) {
			t.Errorf("hosts:drain output lacks %q:\n%s", want, out)
		}
	}
	if h := hostState(t, b, "local"); !h.Draining || !strings.Contains(h.State, "draining") {
		t.Errorf("hosts after drain: %+v, want local draining", h)
	}
	if r := b.MustLarder("hosts"); !strings.Contains(r.Stdout, "draining") {
		t.Errorf("larder hosts does not show the drain:\n%s", r.Stdout)
	}

	r = b.Larder("addons:create", "larder-redis:mini", "-a", "web", "--as", "OTHER")
	if r.Code == 0 || !strings.Contains(r.Stderr, "local is draining") || !strings.Contains(r.Stderr, "larder hosts:undrain local") {
		t.Errorf("create while every host drains: exit %d, stderr %q; want it to name the draining host and hosts:undrain", r.Code, r.Stderr)
	}

	if r := b.Larder("hosts:undrain", "nowhere"); r.Code == 0 || !strings.Contains(r.Stderr, "nowhere") {
		t.Errorf("hosts:undrain of an unknown host: exit %d, stderr %q", r.Code, r.Stderr)
	}
	b.MustLarder("hosts:undrain", "local")
	if h := hostState(t, b, "local"); h.Draining || strings.Contains(h.State, "draining") {
		t.Errorf("hosts after undrain: %+v, want local not draining", h)
	}
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--as", "OTHER", "--wait")
}

// TestDrainAPI: the drain and undrain routes answer what moved, what did not
// and why, and the host's state.
func TestDrainAPI(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	res, err := b.Client().DrainHost(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Operations) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "no standby") {
		t.Errorf("drain = %+v, want one add-on not moved for want of a standby", res)
	}
	h, err := b.Client().UndrainHost(ctx, "local")
	if err != nil || h.Name != "local" || h.Draining {
		t.Errorf("undrain = %+v, %v; want local, not draining", h, err)
	}
	if _, err := b.Client().UndrainHost(ctx, "nowhere"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("undrain of an unknown host: %v, want not found", err)
	}
}

// TestDrainMovesPrimaries: draining a host whose primaries have their
// standby elsewhere moves them all (exit 0), and new nodes avoid the host
// until it is undrained.
func TestDrainMovesPrimaries(t *testing.T) {
	b := haBroker(t)
	b.StartAgent("h1")
	b.StartAgent("h2")
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	url0 := configVars(t, b, "web")["REDIS_URL"]
	writeKeys(t, url0, 100)

	r := b.MustLarder("hosts:drain", ha.PrimaryHost)
	if !strings.Contains(r.Stdout, "1 primaries moved off "+ha.PrimaryHost) {
		t.Errorf("hosts:drain: %q", r.Stdout)
	}
	waitInSync(t, b, "web", func(h api.HAInfo) error {
		if h.PrimaryHost != ha.StandbyHost {
			return fmt.Errorf("primary on %s", h.PrimaryHost)
		}
		return nil
	})
	if url := configVars(t, b, "web")["REDIS_URL"]; url != url0 {
		t.Errorf("REDIS_URL changed in the drain: %s, want %s", url, url0)
	}
	waitServedBy(t, url0, primaryPort(t, b, "web"))
	keysKept(t, url0, 100)
	if h := hostState(t, b, ha.PrimaryHost); !h.Draining {
		t.Errorf("%s after drain: %+v, want draining", ha.PrimaryHost, h)
	}
	b.MustLarder("apps:create", "api")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "api", "--wait")
	if h := hostState(t, b, ha.PrimaryHost); h.Nodes != 1 {
		t.Errorf("the drained host got a new node: %+v", h)
	}
	b.MustLarder("hosts:undrain", ha.PrimaryHost)
	if h := hostState(t, b, ha.PrimaryHost); h.Draining {
		t.Errorf("%s after undrain: %+v", ha.PrimaryHost, h)
	}
}
