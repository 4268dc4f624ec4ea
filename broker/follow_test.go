package broker

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
	"larder/store/sqlite"
)

func TestCheckFollowLoop(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app, err := st.CreateApp(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	addon := func(name string, ports ...int) store.Addon {
		a := store.Addon{Name: name, Service: "larder-redis", Plan: "mini", AppID: app.ID, State: "provisioned",
			MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
		if err := st.CreateAddon(ctx, &a); err != nil {
			t.Fatal(err)
		}
		for i, p := range ports {
			role := store.RolePrimary
			if i > 0 {
				role = store.RoleStandby
			}
			n := store.Node{AddonID: a.ID, Name: name + "-" + role, Role: role, Host: "local", Address: "127.0.0.1", Port: p, State: store.NodeRunning}
			if err := st.CreateNode(ctx, &n); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	follows := func(a store.Addon, port int) {
		if err := st.SetFollow(ctx, &store.Follow{AddonID: a.ID, Leader: "x", Host: "127.0.0.1", Port: port, Password: "pw"}); err != nil {
			t.Fatal(err)
		}
	}
	a := addon("redis-a", 21000, 21001)
	b := addon("redis-b", 21010)
	c := addon("redis-c", 21020)
	follows(b, 21000) // b follows a
	follows(c, 6379)  // c follows a server outside larder
	br := &Addons{&core{store: st}}
	for _, tt := range []struct {
		name   string
		leader engine.Endpoint
		want   string // "" = allowed
	}{
		{"its own primary", engine.Endpoint{Addr: "127.0.0.1", Port: 21000}, "redis-a cannot follow itself"},
		{"its own standby", engine.Endpoint{Addr: "127.0.0.1", Port: 21001}, "its own standby node"},
		{"itself by host name", engine.Endpoint{Addr: "localhost", Port: 21000}, "cannot follow itself"},
		{"a follower of itself", engine.Endpoint{Addr: "127.0.0.1", Port: 21010}, "loop: redis-a → redis-b → redis-a"},
		{"a follower of another leader", engine.Endpoint{Addr: "127.0.0.1", Port: 21020}, ""},
		{"a server outside larder", engine.Endpoint{Addr: "10.0.0.1", Port: 6379}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := br.checkFollowLoop(ctx, a, tt.leader)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkFollowLoop(%v) = %v, want nil", tt.leader, err)
			case tt.want != "" && (fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkFollowLoop(%v) = %v, want Invalid %q", tt.leader, err, tt.want)
			}
		})
	}
}

func TestAddLeader(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app, _ := st.CreateApp(ctx, "web")
	a := store.Addon{Name: "redis-a", Service: "larder-redis", Plan: "premium-0", AppID: app.ID, State: "provisioned",
		MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
	if err := st.CreateAddon(ctx, &a); err != nil {
		t.Fatal(err)
	}
	nodes := []store.Node{{Role: store.RolePrimary}, {Role: store.RoleStandby}}
	specs := make([]provisioner.NodeSpec, 2)
	if err := addLeader(ctx, st, a.ID, nodes, specs); err != nil || specs[0].Leader != nil {
		t.Fatalf("no follow: leader %v, %v", specs[0].Leader, err)
	}
	if err := st.SetFollow(ctx, &store.Follow{AddonID: a.ID, Leader: "x", Host: "10.0.0.1", Port: 6380, Username: "u", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if err := addLeader(ctx, st, a.ID, nodes, specs); err != nil {
		t.Fatal(err)
	}
	if l := specs[0].Leader; l == nil || *l != (engine.Endpoint{Addr: "10.0.0.1", Port: 6380}) || specs[0].LeaderUser != (engine.User{Name: "u", Password: "pw"}) {
		t.Errorf("primary spec = %+v, want the leader", specs[0])
	}
	if specs[1].Leader != nil {
		t.Errorf("the standby got the leader; it follows the primary")
	}
}
