package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// A backup goes all the way round: captured from the standby and
// verified, listed, downloaded, extracted and served by a plain
// redis-server; restored into the same add-on (writes stopped meanwhile,
// TTLs kept) and into a new one.
func TestBackupRoundTrip(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	url := configVars(t, b, "web")["REDIS_URL"]
	fillSample(t, redisClient(t, url), sampleKeys)

	r := b.MustLarder("redis:backups:capture", "-a", "web", "--wait")
	if !strings.Contains(r.Stdout, "Backup b001") || !strings.Contains(r.Stdout, fmt.Sprintf("%d keys", sampleKeys+8)) || !strings.Contains(r.Stdout, "verified") {
		t.Fatalf("redis:backups:capture --wait printed %q", r.Stdout)
	}
	list := b.MustLarder("redis:backups", "-a", "web").Stdout
	for _, want := range []string{"b001", "standby", "Completed", "verified", "daily at 02:00 UTC, 7 kept"} {
		if !strings.Contains(list, want) {
			t.Errorf("redis:backups lacks %q:\n%s", want, list)
		}
	}
	info := b.MustLarder("redis:backups:info", "b001", "-a", "web").Stdout
	if !strings.Contains(info, "Digest:") || !strings.Contains(info, "Engine:") {
		t.Errorf("redis:backups:info:\n%s", info)
	}

	// Download, extract, serve with a plain engine.
	dir := t.TempDir()
	archive := filepath.Join(dir, "b001.tar.gz")
	b.MustLarder("redis:backups:download", "b001", "-a", "web", "-o", archive)
	if out, err := exec.Command("tar", "xzf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar xzf: %v: %s", err, out)
	}
	plain := startPlainRedis(t, "--dir", dir, "--dbfilename", "dump.rdb")
	checkSample(t, plain.URL("default", plain.Password), sampleKeys)

	// Restore into the same add-on: what changed since is gone, TTLs kept.
	ctx := context.Background()
	c := redisClient(t, url)
	c.Set(ctx, "after-backup", "x", 0)
	c.Del(ctx, "str", "list")
	r = b.MustLarder("redis:backups:restore", "b001", "-a", "web", "--confirm", "web")
	if !strings.Contains(r.Stdout, "holds backup b001's data") {
		t.Errorf("restore printed %q", r.Stdout)
	}
	checkSample(t, url, sampleKeys)
	if n, _ := c.Exists(ctx, "after-backup").Result(); n != 0 {
		t.Errorf("a key written after the backup survived its restore")
	}
	if err := c.Set(ctx, "writes-back", "1", 0).Err(); err != nil {
		t.Errorf("writes after the restore: %v", err)
	}
	evs := eventsOf(t, b, "web", "REDIS")
	for _, want := range []string{"backup.captured", "backup.restore", "backup.restored"} {
		if !strings.Contains(evs, want) {
			t.Errorf("events lack %s:\n%s", want, evs)
		}
	}

	// Into a new add-on.
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--as", "COPY", "--restore", "b001", "--wait")
	checkSample(t, configVars(t, b, "web")["COPY_URL"], sampleKeys)
}

// Bad input is refused with a clear message and changes nothing; a backup
// whose archive fails its checks is refused and the add-on keeps its data.
func TestBackupRefusals(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	url := configVars(t, b, "web")["REDIS_URL"]
	ctx := context.Background()
	c := redisClient(t, url)
	c.Set(ctx, "keep", "me", 0)
	b.MustLarder("redis:backups:capture", "-a", "web", "--wait")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"redis:backups:info", "b999", "-a", "web"}, "has no backup b999"},
		{[]string{"redis:backups:info", "nope", "-a", "web"}, "invalid backup id"},
		{[]string{"redis:backups:restore", "b999", "-a", "web", "--confirm", "web"}, "has no backup b999"},
		{[]string{"redis:backups:delete", "b999", "-a", "web", "--confirm", "web"}, "has no backup b999"},
		{[]string{"redis:backups:download", "b999", "-a", "web", "-o", filepath.Join(t.TempDir(), "x")}, "has no backup b999"},
		{[]string{"redis:backups:restore", "b001", "-a", "web"}, "--confirm web"},
		{[]string{"redis:backups:delete", "b001", "-a", "web"}, "--confirm web"},
		{[]string{"redis:backups:schedule", "-a", "web", "--at", "02:00 UTC"}, "on demand only"},
		{[]string{"redis:backups:schedule", "-a", "web", "--at", "25:00"}, "the hour must be 00-23"},
		{[]string{"redis:backups:schedule", "-a", "web", "--at", "02:00 Mars/Base"}, "unknown time zone"},
		{[]string{"redis:backups:schedule", "-a", "web", "--at", "02:00", "--retain", "0"}, "keep at least 1"},
		{[]string{"redis:backups:schedule", "-a", "web"}, "no time given"},
		{[]string{"addons:create", "larder-redis:mini", "-a", "web", "--restore", "b999"}, "has no backup b999"},
	} {
		r := b.Larder(tc.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("larder %s: exit %d, stderr %q; want a failure saying %q", strings.Join(tc.args, " "), r.Code, r.Stderr, tc.want)
		}
	}
	list := b.MustLarder("redis:backups", "-a", "web").Stdout
	if strings.Count(list, "Completed") != 1 || !strings.Contains(list, "No backup schedules") {
		t.Errorf("after the refusals redis:backups shows:\n%s", list)
	}
	if n := len(b.MustLarder("addons", "-a", "web").Stdout); n == 0 || strings.Count(b.MustLarder("addons", "-a", "web").Stdout, "redis-") != 1 {
		t.Errorf("a refused addons:create --restore left an add-on behind")
	}

	// Damage the stored archive: the restore is refused before it touches
	// the add-on, and the backup is marked so.
	path := filepath.Join(b.DataDir, "backups", archiveName(t, b))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+16; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, "since", "1", 0)
	r := b.Larder("redis:backups:restore", "b001", "-a", "web", "--confirm", "web")
	if r.Code == 0 || !strings.Contains(r.Stderr, "refused") || !strings.Contains(r.Stderr, "rolled back") {
		t.Errorf("restore of a damaged archive: exit %d, stderr %q; want it refused and rolled back", r.Code, r.Stderr)
	}
	if v, _ := c.Get(ctx, "since").Result(); v != "1" {
		t.Errorf("the refused restore changed the add-on's data")
	}
	if err := c.Set(ctx, "writes", "on", 0).Err(); err != nil {
		t.Errorf("writes after the refused restore: %v", err)
	}
	r = b.Larder("redis:backups:restore", "b001", "-a", "web", "--confirm", "web")
	if r.Code == 0 || !strings.Contains(r.Stderr, "failed its verification") {
		t.Errorf("second restore of the damaged backup: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// archiveName is the one archive in the broker's local backup directory.
func archiveName(t *testing.T, b *Broker) string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(b.DataDir, "backups", "*.tar.gz"))
	if len(names) != 1 {
		t.Fatalf("archives in the backup directory: %v, want one", names)
	}
	return filepath.Base(names[0])
}

// A full disk fails the backup with a clear event; the add-on keeps
// serving and nothing is left in the stage.
func TestBackupDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	b := NewBroker(t)
	b.Stop()
	stage := filepath.Join(b.DataDir, "backup-stage")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", stage).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", stage).Run() })
	b.Start()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	url := configVars(t, b, "web")["REDIS_URL"]
	ctx := context.Background()
	c := redisClient(t, url)
	p := c.Pipeline()
	for i := range 200 { // random values: the engine's LZF cannot shrink them below the disk
		v := make([]byte, 4096)
		rand.Read(v)
		p.Set(ctx, fmt.Sprintf("big%d", i), v, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	r := b.Larder("redis:backups:capture", "-a", "web", "--wait")
	if r.Code == 0 || !strings.Contains(r.Stderr, "backup b001 failed") {
		t.Fatalf("capture onto a full disk: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if evs := eventsOf(t, b, "web", "REDIS"); !strings.Contains(evs, "backup.failed") || !strings.Contains(evs, "the add-on is unharmed") {
		t.Errorf("events after the failed backup:\n%s", evs)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 200 {
		t.Errorf("the add-on after the failed backup: %d keys, %v", n, err)
	}
	if entries, _ := os.ReadDir(stage); len(entries) != 0 {
		t.Errorf("the failed backup left %d entries in the stage", len(entries))
	}
	if list := b.MustLarder("redis:backups", "-a", "web").Stdout; !strings.Contains(list, "Failed") {
		t.Errorf("redis:backups after the failure:\n%s", list)
	}
}

// Backups go to an S3-compatible store (gofakes3 over HTTP on loopback)
// and come back from it; the credentials never show in the broker's log;
// an unreachable store fails a backup with a clear event.
func TestBackupS3RoundTrip(t *testing.T) {
	mem := s3mem.New()
	if err := mem.CreateBucket("larder-backups"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	const secret = "s3-secret-do-not-log"
	b := NewBroker(t, "LARDER_BACKUP_URL=s3://larder-backups/prod", "LARDER_S3_ENDPOINT="+u.Host, "LARDER_S3_INSECURE=true",
		"LARDER_S3_PATH_STYLE=true", "LARDER_S3_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test-key", "AWS_SECRET_ACCESS_KEY="+secret)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	url := configVars(t, b, "web")["REDIS_URL"]
	fillSample(t, redisClient(t, url), 100)
	b.MustLarder("redis:backups:capture", "-a", "web", "--wait")
	objs, err := mem.ListBucket("larder-backups", nil, gofakes3.ListBucketPage{})
	if err != nil || len(objs.Contents) != 1 || !strings.HasPrefix(objs.Contents[0].Key, "prod/") {
		t.Fatalf("objects in the bucket: %+v, %v", objs, err)
	}
	redisClient(t, url).FlushAll(context.Background())
	b.MustLarder("redis:backups:restore", "b001", "-a", "web", "--confirm", "web")
	checkSample(t, url, 100)

	srv.Close()
	r := b.Larder("redis:backups:capture", "-a", "web", "--wait")
	if r.Code == 0 || !strings.Contains(r.Stderr, "backup b002 failed") {
		t.Errorf("capture to an unreachable store: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if evs := eventsOf(t, b, "web", "REDIS"); !strings.Contains(evs, "backup.failed") {
		t.Errorf("events lack backup.failed:\n%s", evs)
	}
	if strings.Contains(b.logs.String(), secret) || strings.Contains(r.Stderr, secret) {
		t.Errorf("the S3 secret key shows in the broker's log or the CLI's output")
	}
}
