package integration

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"larder/api"
)

// TestDataFilesArePrivate: whatever the umask, every file larder (or an
// engine it runs) writes is readable by its owner only and every directory
// is 0700: the store holds plaintext passwords, the token files are keys to
// the API, node directories hold users.acl and the data.
func TestDataFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0) // the most permissive umask; children inherit it
	t.Cleanup(func() { syscall.Umask(old) })
	b := NewBroker(t)
	agent := b.StartAgent("h1", "--token=") // an empty --token: the agent generates its token file
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	for _, v := range []string{"REDIS_URL", "LARDER_REDIS_AMBER_URL"} {
		url, ok := configVars(t, b, "web")[v]
		if !ok {
			t.Fatalf("no %s in the app's vars", v)
		}
		if err := redisClient(t, url).Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.Stop() // a broker stopping checkpoints its WAL: every file it ever makes exists by now
	b.Start()

	for _, want := range []string{
		filepath.Join(b.DataDir, "larder.db"), filepath.Join(b.DataDir, "larder.db-wal"), filepath.Join(b.DataDir, "larder.db-shm"),
		filepath.Join(b.DataDir, "token"), filepath.Join(b.DataDir, "osb-password"), filepath.Join(b.DataDir, "monitor-password"),
		filepath.Join(b.DataDir, api.DiscoveryFile), filepath.Join(b.DataDir, "quarantine"), filepath.Join(agent.Dir, "agent-token"),
		filepath.Join(agent.Dir, "quarantine"),
	} {
		if _, err := os.Stat(want); err != nil {
			t.Errorf("expected %s: %v", want, err)
		}
	}
	nodes := 0
	for _, root := range []string{b.DataDir, agent.Dir, b.Home} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Errorf("walk %s: %v", path, err)
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil // removed while walking (a temp file)
			}
			mode := fi.Mode().Perm()
			switch {
			case d.IsDir() && mode != 0o700:
				t.Errorf("directory %s has mode %v, want 0700", path, mode)
			case !d.IsDir() && mode&0o077 != 0:
				t.Errorf("file %s has mode %v, want no access for group or others", path, mode)
			}
			if d.Name() == "users.acl" {
				nodes++
			}
			return nil
		})
	}
	if nodes != 3 {
		t.Errorf("found %d node directories, want 3 (mini, and a premium pair)", nodes)
	}
}
