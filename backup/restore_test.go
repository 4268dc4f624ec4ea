package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"larder/fault"
)

// Load restores every key, with its value and its expiry (the same absolute
// time), and the function libraries, into a running node; it replaces a
// node's data only when asked to.
func TestLoadRestoresIntoARunningNode(t *testing.T) {
	src, _, node := populated(t)
	path, m := capture(t, node)
	ctx := context.Background()

	dst, admin, _ := startNode(t)
	loaded, err := Load(ctx, openFile(t, path), admin, LoadOptions{})
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if loaded.Keys != m.Keys || loaded.Expired != 0 || loaded.Functions != 1 {
		t.Errorf("Load() = %+v, want %d keys and 1 function", loaded, m.Keys)
	}
	sameData(t, src.Client, dst.Client)

	// A node that holds data is left alone unless the restore replaces it.
	c := dst.Client(0)
	defer c.Close()
	c.Set(ctx, "written-since", "v", 0)
	c.Del(ctx, "str")
	_, err = Load(ctx, openFile(t, path), admin, LoadOptions{})
	if fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), "replaces them only when asked") {
		t.Fatalf("Load(into a node with data) error = %v, want a conflict", err)
	}
	if n, _ := c.Exists(ctx, "written-since").Result(); n != 1 {
		t.Errorf("the refused restore changed the node")
	}
	if _, err := Load(ctx, openFile(t, path), admin, LoadOptions{Replace: true}); err != nil {
		t.Fatalf("Load(Replace) error = %v", err)
	}
	sameData(t, src.Client, dst.Client)
}

// Keys whose expiry passed since the capture are left out, as the engine
// itself drops them when it loads an RDB.
func TestLoadLeavesOutExpiredKeys(t *testing.T) {
	src, _, node := startNode(t)
	c := src.Client(0)
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "stays", "v", time.Hour)
	c.Set(ctx, "goes", "v", 200*time.Millisecond)
	path, _ := capture(t, node)
	waitFor(t, 10*time.Second, func() error {
		if n, _ := c.Exists(ctx, "goes").Result(); n != 0 {
			return errors.New("not expired yet")
		}
		return nil
	})
	dst, admin, _ := startNode(t)
	loaded, err := Load(ctx, openFile(t, path), admin, LoadOptions{})
	if err != nil || loaded.Keys != 1 || loaded.Expired != 1 {
		t.Fatalf("Load() = %+v, %v; want 1 key restored and 1 expired", loaded, err)
	}
	d := dst.Client(0)
	defer d.Close()
	want, _ := c.PExpireTime(ctx, "stays").Result()
	if got, err := d.PExpireTime(ctx, "stays").Result(); err != nil || got != want {
		t.Errorf("restored expiry = %v, %v; want %v", got, err, want)
	}
}

// A corrupt archive is refused before the node is touched.
func TestLoadRefusesACorruptArchive(t *testing.T) {
	_, _, node := populated(t)
	path, _ := capture(t, node)
	archive, _ := os.ReadFile(path)
	files := members(t, archive)
	rdbData := bytes.Clone(files[RDBFile])
	rdbData[len(rdbData)/3] ^= 1
	dst, admin, _ := startNode(t)
	c := dst.Client(0)
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "precious", "v", 0)
	_, err := Load(ctx, bytes.NewReader(repack(t, rdbData, files[ManifestFile])), admin, LoadOptions{Replace: true})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Load() error = %v, want a refusal for the checksum", err)
	}
	if n, _ := c.DBSize(ctx).Result(); n != 1 {
		t.Errorf("the node holds %d keys after the refused restore, want its 1 key untouched", n)
	}
}

// A node that refuses a RESTORE stops the restore with its own words.
func TestLoadReportsTheNodesRefusal(t *testing.T) {
	_, _, node := populated(t)
	path, _ := capture(t, node)
	_, admin, _ := startNode(t, "user norestore on >pw ~* &* +@all -restore")
	for _, tc := range []struct {
		name string
		user string
		pw   string
		want string
	}{
		{"no RESTORE right", "norestore", "pw", "NOPERM"},
		{"wrong password", "norestore", "nope", "the node refused the credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			into := admin
			into.User, into.Password = tc.user, tc.pw
			_, err := Load(context.Background(), openFile(t, path), into, LoadOptions{})
			if fault.KindOf(err) == fault.Internal || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "nope") {
				t.Errorf("Load() error = %v, want one saying %q without the password", err, tc.want)
			}
		})
	}
}
