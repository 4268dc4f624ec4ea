package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"larder/api"
)

// A broker that dies in the middle of a capture (at each of its steps, or
// killed outright while the snapshot streams or is verified) takes the
// backup again when it comes back: the operation ends and says how, the
// backup is completed and verified, and nothing is left behind — no staged
// or partial file, no scratch node, no backup record still running.
func TestBackupCaptureResumes(t *testing.T) {
	for _, tt := range []struct {
		name, point string
		killWhen    string // kill -9 once a stage entry with this prefix appears
	}{
		{"staged", "backup_capture.staged", ""},
		{"stored", "backup_capture.stored", ""},
		{"killed mid-stream", "", ".larder-stage-"},
		{"killed mid-verify", "", "larder-verify-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if tt.point != "" {
				env = append(env, "LARDER_CRASH_AT="+tt.point)
			}
			b := NewBroker(t, env...)
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
			url := configVars(t, b, "web")["REDIS_URL"]
			fillSample(t, redisClient(t, url), 100)
			if tt.point != "" {
				// The crash may cut the answer short; the operation is in the store.
				b.Client().CaptureBackup(context.Background(), "web", "REDIS", api.BackupCapture{})
				b.restartAfterCrash()
			} else {
				fillRandom(t, url, 12<<20) // a snapshot that takes a while to stream and verify
				killDuringCapture(t, b, tt.killWhen)
			}
			op := waitOperationEnd(t, b, lastOperation(t, b, "backup_capture"))
			if op.State != api.OpSucceeded {
				t.Errorf("the resumed capture: %s %q, want succeeded", op.State, op.Error)
			}
			bk, err := b.Client().Backup(context.Background(), "web", lastBackupID(t, b))
			if err != nil {
				t.Fatal(err)
			}
			if bk.Status != api.BackupCompleted || bk.Verified != api.BackupVerified {
				t.Errorf("backup %s is %s/%s (%s), want completed and verified", bk.ID, bk.Status, bk.Verified, bk.Error)
			}
			noBackupLeftovers(t, b)
		})
	}
}

// A broker that dies in the middle of a restore (once writes stopped, once
// the undo copy is kept, half-way through the load) finishes it when it
// comes back; and a restore stops the app's writes throughout — reads go
// on, a write answers NOPERM, also while the restarted broker finishes it
// — and gives them back once it ends. The add-on ends holding exactly the
// backup's data, never a mix, and nothing is left behind.
func TestBackupRestoreResumesWithWritesStopped(t *testing.T) {
	const hold = "LARDER_HOLD_AT=backup_restore.load"
	for _, tt := range []struct{ name, point string }{
		{"no crash", ""},
		{"writes stopped", "backup_restore.paused"},
		{"undo copy kept", "backup_restore.loading"},
		{"half loaded", "backup_restore.mid_load"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{hold}
			if tt.point != "" {
				env = []string{"LARDER_CRASH_AT=" + tt.point}
			}
			b := NewBroker(t, env...)
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
			url := configVars(t, b, "web")["REDIS_URL"]
			ctx := context.Background()
			c := redisClient(t, url)
			fillSample(t, c, sampleKeys) // more keys than backup.ProgressEvery: the load reports mid-way
			b.MustLarder("redis:backups:capture", "-a", "web", "--wait")
			c.Set(ctx, "after-backup", "x", 0)
			c.Del(ctx, "str")

			b.Client().RestoreBackup(ctx, "web", "REDIS", api.BackupRestore{Backup: "b001", Confirm: "web"}) // a crash may cut it short
			if tt.point != "" {
				b.extra = append(b.extra, hold)
				b.restartAfterCrash()
			}
			held := filepath.Join(b.DataDir, "held-backup_restore.load")
			WaitFor(t, 30*time.Second, "the restore to reach its load", func() error {
				_, err := os.Stat(held)
				return err
			})
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if _, err := c.DBSize(wctx).Result(); err != nil {
				t.Errorf("a read during the restore: %v, want it served", err)
			}
			if err := c.Set(wctx, "during", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("a write during the restore answered %v, want NOPERM", err)
			}
			os.Remove(held)

			op := waitOperationEnd(t, b, lastOperation(t, b, "backup_restore"))
			if op.State != api.OpSucceeded {
				t.Errorf("the restore: %s %q, want succeeded", op.State, op.Error)
			}
			checkSample(t, url, sampleKeys)
			for _, k := range []string{"after-backup", "during"} {
				if n, _ := c.Exists(ctx, k).Result(); n != 0 {
					t.Errorf("key %s, not in the backup, survived its restore", k)
				}
			}
			if err := c.Set(ctx, "writes-back", "1", 0).Err(); err != nil {
				t.Errorf("a write after the restore: %v", err)
			}
			if k := eventKinds(t, b, "web"); k["backup.restored"] != 1 {
				t.Errorf("events %v: want one backup.restored", k)
			}
			noBackupLeftovers(t, b)
		})
	}
}

// fillRandom writes about size bytes of random 1 KB values through rawURL.
func fillRandom(t *testing.T, rawURL string, size int) {
	t.Helper()
	ctx := context.Background()
	p := redisClient(t, rawURL).Pipeline()
	for i := range size >> 10 {
		v := make([]byte, 1024)
		rand.Read(v)
		p.Set(ctx, fmt.Sprintf("rnd%d", i), v, 0)
		if p.Len() >= 1000 {
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// killDuringCapture starts captures of web's add-on until one is caught
// with a stage entry named prefix… (a capture can end between two looks),
// then kills the broker with SIGKILL and starts it again.
func killDuringCapture(t *testing.T, b *Broker, prefix string) {
	t.Helper()
	stage := filepath.Join(b.DataDir, "backup-stage")
	for try := 1; try <= 5; try++ {
		res, err := b.Client().CaptureBackup(context.Background(), "web", "REDIS", api.BackupCapture{})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			entries, _ := os.ReadDir(stage)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), prefix) {
					b.cmd.Process.Kill()
					<-b.done
					b.cmd = nil
					b.Start()
					return
				}
			}
			if op, err := b.Client().Operation(context.Background(), res.Operation.ID); err == nil && op.Done() {
				break
			}
			time.Sleep(time.Millisecond) // a look at the stage, bounded by the deadline
		}
	}
	t.Fatalf("no capture was caught with %s… in the stage", prefix)
}

// lastBackupID is the id of the newest backup of web.
func lastBackupID(t *testing.T, b *Broker) string {
	t.Helper()
	bks, err := b.Client().Backups(context.Background(), "web")
	if err != nil || len(bks) == 0 {
		t.Fatalf("backups of web: %v, %v", bks, err)
	}
	sort.Slice(bks, func(i, j int) bool { return bks[i].ID < bks[j].ID })
	return bks[len(bks)-1].ID
}

// noBackupLeftovers checks that backups left nothing behind: the stage is
// empty, the backup directory holds exactly the archives of the completed
// backups, no backup is recorded running, and no scratch node runs.
func noBackupLeftovers(t *testing.T, b *Broker) {
	t.Helper()
	stage := filepath.Join(b.DataDir, "backup-stage")
	if entries, _ := os.ReadDir(stage); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the stage holds %v, want nothing", names)
	}
	bks, err := b.Client().Backups(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, bk := range bks {
		switch bk.Status {
		case api.BackupRunning:
			t.Errorf("backup %s is still recorded running", bk.ID)
		case api.BackupCompleted:
			want = append(want, bk.Addon+"-"+bk.ID+".tar.gz")
		}
	}
	entries, _ := os.ReadDir(filepath.Join(b.DataDir, "backups"))
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the backup directory holds %v, want the completed backups' archives %v", got, want)
	}
	WaitFor(t, 10*time.Second, "no scratch node left running", func() error {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if cmd, err := os.ReadFile(p); err == nil && strings.Contains(string(cmd), stage) {
				return fmt.Errorf("%s runs: %q", filepath.Dir(p), strings.ReplaceAll(string(cmd), "\x00", " "))
			}
		}
		return nil
	})
}
