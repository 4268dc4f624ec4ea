package backup

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"larder/backup/internal/fixture"
	"larder/backup/target"
	"larder/fault"
)

var s3Keys = target.Options{AccessKey: "test-key", SecretKey: "test-secret"}

// Capture → store → read back → extract → a plain redis-server serves every
// key: through a local directory and through an S3-protocol store.
func TestTakeStoresAVerifiedBackup(t *testing.T) {
	src, _, node := populated(t)
	endpoint := fixture.FakeS3(t)
	for _, tc := range []struct {
		name, url string
	}{
		{"local directory", filepath.Join(t.TempDir(), "backups")},
		{"s3", fixture.S3URL(endpoint, "backups")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			tg, err := target.Open(tc.url, s3Keys)
			if err != nil {
				t.Fatal(err)
			}
			stage := t.TempDir()
			res, err := Take(ctx, Job{Name: "b-1.tar.gz", Source: node, Meta: Meta{AddonName: "redis-test-1"}, Target: tg, StageDir: stage})
			if err != nil {
				t.Fatalf("Take() error = %v", err)
			}
			if res.VerifyErr != nil || res.Verified == nil || res.Verified.Digest != res.Manifest.Digest {
				t.Errorf("Take() verification = %+v, %v", res.Verified, res.VerifyErr)
			}
			if objs, err := tg.List(ctx); err != nil || len(objs) != 1 || objs[0].Name != "b-1.tar.gz" || objs[0].Size != res.Size {
				t.Errorf("List() = %+v, %v; want b-1.tar.gz of %d bytes", objs, err, res.Size)
			}
			fixture.Empty(t, stage, "Take")
			dir := t.TempDir()
			download(t, tg, "b-1.tar.gz", filepath.Join(dir, "b.tar.gz"))
			if out, err := exec.Command("tar", "-xzf", filepath.Join(dir, "b.tar.gz"), "-C", dir).CombinedOutput(); err != nil {
				t.Fatalf("tar -xzf: %v: %s", err, out)
			}
			sameData(t, src.Client, plainServer(t, dir))
		})
	}
}

func download(t *testing.T, tg target.Target, name, path string) {
	t.Helper()
	r, err := tg.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
}

// A target that is full or unreachable fails the backup with a clear error
// and leaves nothing in the stage directory or the target.
func TestTakeFailsCleanly(t *testing.T) {
	s, _, node := startNode(t)
	c := s.Client(0)
	defer c.Close()
	fillRandom(t, c, 2048, 1024) // 2 MB: more than the small disk holds
	full, err := target.NewLocal(fixture.SmallDisk(t))
	if err != nil {
		t.Fatal(err)
	}
	unreachable, _ := target.Open(fixture.S3URL("127.0.0.1:1", "backups"), s3Keys)
	for _, tc := range []struct {
		name string
		tg   target.Target
		want string
	}{
		{"full disk", full, "no space left on the device"},
		{"unreachable store", unreachable, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stage := t.TempDir()
			_, err := Take(context.Background(), Job{Name: "b-1.tar.gz", Source: node, Target: tc.tg, StageDir: stage})
			if fault.KindOf(err) != fault.Unavailable || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Take() error = %v, want unavailable: %s", err, tc.want)
			}
			fixture.Empty(t, stage, "a failed Take")
			if local, ok := tc.tg.(*target.Local); ok {
				fixture.Empty(t, local.Dir(), "a failed Take")
			}
		})
	}
	if n, err := c.DBSize(context.Background()).Result(); err != nil || n != 2048 {
		t.Errorf("DBSIZE after the failed backups = %d, %v; want 2048", n, err)
	}
}

func TestSweepStage(t *testing.T) {
	dir := t.TempDir()
	leftovers := []string{".larder-stage-b-1.tar.gz", "..larder-stage-b-2.tar.gz.partial-123", "larder-verify-456", "larder-restore-789"}
	for _, name := range leftovers {
		os.MkdirAll(filepath.Join(dir, name), 0o700) // files and dirs alike
	}
	os.WriteFile(filepath.Join(dir, "b-3.tar.gz"), []byte("a stored backup"), 0o600)
	if n, err := SweepStage(dir); err != nil || n != len(leftovers) {
		t.Errorf("SweepStage() = %d, %v; want %d", n, err, len(leftovers))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "b-3.tar.gz" {
		t.Errorf("after SweepStage the directory holds %v, want b-3.tar.gz alone", entries)
	}
	if n, err := SweepStage(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("SweepStage(missing) = %d, %v", n, err)
	}
}
