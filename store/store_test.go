package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"larder/fault"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "larder.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpen_MigratesOnceAndReopens(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	apps, err := s2.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(apps), 1; got != want {
		t.Fatalf("apps after reopen = %d, want %d", got, want)
	}
	var mode string
	if err := s2.db.Get(&mode, `PRAGMA journal_mode`); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestApps_DuplicateIsConflict(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateApp(ctx, "web")
	if got, want := fault.KindOf(err), fault.Conflict; got != want {
		t.Fatalf("duplicate app: kind %v (%v), want %v", got, err, want)
	}
	_, err = s.AppByName(ctx, "nope")
	if got, want := fault.KindOf(err), fault.NotFound; got != want {
		t.Fatalf("missing app: kind %v, want %v", got, want)
	}
}

func seedAddon(t *testing.T, s *Store, app App, name string) Addon {
	t.Helper()
	a := Addon{Name: name, Service: "larder-redis", Plan: "mini", AppID: app.ID, State: "provisioning",
		MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
	if err := s.CreateAddon(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNodes_PortIsClaimedOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	n1 := Node{AddonID: a.ID, Name: "n1", Role: RolePrimary, Host: "local", Port: 21000, State: NodeStarting}
	if err := s.CreateNode(ctx, &n1); err != nil {
		t.Fatal(err)
	}
	n2 := Node{AddonID: a.ID, Name: "n2", Role: RoleStandby, Host: "local", Port: 21000, State: NodeStarting}
	if got, want := fault.KindOf(s.CreateNode(ctx, &n2)), fault.Conflict; got != want {
		t.Fatalf("second claim of a port: kind %v, want %v", got, want)
	}
	n2.Host = "other"
	if err := s.CreateNode(ctx, &n2); err != nil {
		t.Fatalf("same port on another host: %v", err)
	}
	ports, err := s.UsedPorts(ctx, "local", "")
	if err != nil || len(ports) != 1 || ports[0] != 21000 {
		t.Fatalf("UsedPorts = %v, %v; want [21000]", ports, err)
	}
}

func TestNodes_ClaimAndMoveSkipTakenPorts(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	err := s.InTx(ctx, func(tx *Tx) error {
		for i, want := range []bool{true, false} {
			n := Node{AddonID: a.ID, Name: fmt.Sprintf("n%d", i), Role: RolePrimary, Host: "local", Port: 21000, State: NodeStarting}
			got, err := tx.ClaimNode(ctx, &n)
			if err != nil || got != want {
				return fmt.Errorf("claim %d of port 21000 = %v, %v; want %v", i+1, got, err, want)
			}
		}
		// The transaction is still usable after a claim that lost.
		n := Node{AddonID: a.ID, Name: "n1", Role: RoleStandby, Host: "local", Port: 21001, State: NodeStarting}
		if ok, err := tx.ClaimNode(ctx, &n); !ok || err != nil {
			return fmt.Errorf("claim of port 21001 = %v, %v; want true", ok, err)
		}
		if ok, err := tx.MoveNodePort(ctx, n.ID, 21000); ok || err != nil {
			return fmt.Errorf("move to a taken port = %v, %v; want false", ok, err)
		}
		if ok, err := tx.MoveNodePort(ctx, n.ID, 21002); !ok || err != nil {
			return fmt.Errorf("move to a free port = %v, %v; want true", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ports, err := s.UsedPorts(ctx, "local", "")
	if err != nil || fmt.Sprint(ports) != "[21000 21002]" {
		t.Fatalf("UsedPorts = %v, %v; want [21000 21002]", ports, err)
	}
}

func TestDeleteAddon_CascadesAttachmentsAndNodes(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if err := s.CreateAttachment(ctx, &Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNode(ctx, &Node{AddonID: a.ID, Name: "n1", Role: RolePrimary, Host: "local", Port: 21000, State: NodeRunning}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	atts, _ := s.AttachmentsOfApp(ctx, app.ID)
	ports, _ := s.UsedPorts(ctx, "local", "")
	if len(atts) != 0 || len(ports) != 0 {
		t.Fatalf("after delete: attachments %v, ports %v; want none", atts, ports)
	}
}

func TestInTx_RollsBackOnError(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	app, _ := s.CreateApp(ctx, "web")
	err := s.InTx(ctx, func(tx *Tx) error {
		a := Addon{Name: "redis-x", Service: "larder-redis", Plan: "mini", AppID: app.ID, State: "provisioning",
			MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
		if err := tx.CreateAddon(ctx, &a); err != nil {
			return err
		}
		// The second attachment with the same name fails: the whole create must vanish.
		if err := tx.CreateAttachment(ctx, &Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"}); err != nil {
			return err
		}
		return tx.CreateAttachment(ctx, &Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"})
	})
	if got, want := fault.KindOf(err), fault.Conflict; got != want {
		t.Fatalf("kind %v (%v), want %v", got, err, want)
	}
	addons, _ := s.Addons(ctx)
	if len(addons) != 0 {
		t.Fatalf("add-ons after rollback = %d, want 0", len(addons))
	}
}

func TestUserVars_SetUnset(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	app, _ := s.CreateApp(ctx, "web")
	for _, kv := range [][2]string{{"A", "1"}, {"B", "2"}, {"A", "3"}} {
		if err := s.SetUserVar(ctx, app.ID, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UnsetUserVar(ctx, app.ID, "B"); err != nil {
		t.Fatal(err)
	}
	vars, err := s.UserVars(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(vars), 1; got != want || vars["A"] != "3" {
		t.Fatalf("vars = %v, want map[A:3]", vars)
	}
}

// TestOpen_FilesArePrivate: the database and its -wal and -shm hold
// passwords: 0600 whatever the umask, and tightened when an older larder
// left them readable.
func TestOpen_FilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "larder.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), got)
			}
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	check("new store")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s.Close()
	check("store left readable by an older larder")
}
