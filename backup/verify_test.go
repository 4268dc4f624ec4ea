package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"larder/backup/internal/fixture"
	"larder/fault"
)

func TestVerifyProvesACapture(t *testing.T) {
	_, _, node := populated(t)
	path, m := capture(t, node)
	dir := t.TempDir()
	v, err := Verify(context.Background(), openFile(t, path), VerifyOptions{Dir: dir})
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	if v.Keys != m.Keys || v.Digest != m.Digest || v.Manifest.Digest != m.Digest {
		t.Errorf("Verify() = %d keys, %s; manifest %s", v.Keys, v.Digest, m.describe())
	}
	fixture.Empty(t, dir, "Verify")
}

// Keys whose expiry passes between the capture and the verification are
// in the snapshot and in the manifest's count: the verification must not
// lose them (a primary would drop them while loading).
func TestVerifyKeepsKeysThatExpiredSinceTheCapture(t *testing.T) {
	src, _, node := startNode(t)
	c := src.Client(0)
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "stays", "v", 0)
	if err := c.Set(ctx, "goes", "v", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	path, m := capture(t, node)
	if m.Keys != 2 {
		t.Fatalf("the capture holds %d keys, want 2 (the short-lived key not yet expired)", m.Keys)
	}
	waitFor(t, 10*time.Second, func() error {
		if n, _ := c.Exists(ctx, "goes").Result(); n != 0 {
			return errors.New("the key has not expired yet")
		}
		return nil
	})
	if _, err := Verify(ctx, openFile(t, path), VerifyOptions{}); err != nil {
		t.Errorf("Verify() error = %v", err)
	}
}

// Damaged archives are refused before anything is loaded, with an error
// that says so; so is a manifest that does not describe its data.
func TestCorruptBackupsAreRefused(t *testing.T) {
	_, _, node := populated(t)
	path, m := capture(t, node)
	archive, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := members(t, archive)
	rdbData, manifest := files[RDBFile], files[ManifestFile]
	flipped := func(b []byte, at int) []byte {
		c := bytes.Clone(b)
		c[at] ^= 0x40
		return c
	}
	tampered := func(change func(*Manifest)) []byte {
		var mm Manifest
		if err := json.Unmarshal(manifest, &mm); err != nil {
			t.Fatal(err)
		}
		change(&mm)
		data, _ := json.Marshal(mm)
		return repack(t, rdbData, data)
	}
	for _, tc := range []struct {
		name    string
		archive []byte
		want    string // in the error
		checked bool   // Check (checksums only) sees it too
	}{
		{"a byte flipped in the compressed stream", flipped(archive, len(archive)/2), "truncated or damaged", true},
		{"a byte flipped in the first member's header", flipped(archive, 200), "", true},
		{"truncated to half", archive[:len(archive)/2], "truncated or damaged", true},
		{"truncated by 10 bytes", archive[:len(archive)-10], "truncated or damaged", true},
		{"truncated to its first member", archive[:headerMemberSize], "", true},
		{"empty", nil, "not a gzip stream", true},
		{"dump.rdb changed, manifest kept", repack(t, flipped(rdbData, len(rdbData)/2), manifest), "the manifest says", true},
		{"dump.rdb cut, manifest kept", repack(t, rdbData[:len(rdbData)-100], manifest), "the manifest says", true},
		{"no manifest", repack(t, rdbData, nil), "archive: no manifest.json", true},
		{"manifest with one key more", tampered(func(mm *Manifest) { mm.Keys++; mm.DBs[0].Keys++ }),
			"db0: the manifest says " + itoa(m.DBs[0].Keys+1) + " keys, the engine loaded " + itoa(m.DBs[0].Keys), false},
		{"manifest with another digest", tampered(func(mm *Manifest) { mm.Digest = "xxh64sum-v1:0123456789abcdef" }),
			"the manifest's digest is xxh64sum-v1:0123456789abcdef, the loaded data's is " + m.Digest, false},
		{"manifest with another function count", tampered(func(mm *Manifest) { mm.Functions = 3 }),
			"the manifest says 3 function libraries, the engine holds 1", false},
		{"manifest that contradicts itself", tampered(func(mm *Manifest) { mm.Keys++ }), "its databases hold", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			_, err := Verify(ctx, bytes.NewReader(tc.archive), VerifyOptions{Dir: dir})
			if !errors.Is(err, ErrCorrupt) || fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify() error = %v, want ErrCorrupt saying %q", err, tc.want)
			}
			t.Log(fault.Message(err))
			_, cerr := Check(bytes.NewReader(tc.archive))
			if tc.checked != (cerr != nil) || cerr != nil && !errors.Is(cerr, ErrCorrupt) {
				t.Errorf("Check() error = %v, want a corrupt-backup error: %v", cerr, tc.checked)
			}
			fixture.Empty(t, dir, "a refused Verify")
			extractDir := t.TempDir()
			if tc.checked {
				if _, err := Extract(bytes.NewReader(tc.archive), extractDir); !errors.Is(err, ErrCorrupt) {
					t.Errorf("Extract() error = %v, want ErrCorrupt", err)
				}
				fixture.Empty(t, extractDir, "a refused Extract")
			}
		})
	}
}

// The scratch node's data goes where asked; a full disk there is a storage
// error, not a verdict on the backup, and leaves nothing behind.
func TestVerifyOnFullDisk(t *testing.T) {
	s, _, node := startNode(t)
	c := s.Client(0)
	defer c.Close()
	fillRandom(t, c, 2048, 1024) // 2 MB: more than the disk holds
	path, _ := capture(t, node)
	dir := fixture.SmallDisk(t)
	_, err := Verify(context.Background(), openFile(t, path), VerifyOptions{Dir: dir})
	if err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(fault.Message(err), "unpack") {
		t.Fatalf("Verify() error = %v, want a storage error", err)
	}
	fixture.Empty(t, dir, "a Verify on a full disk")
	if _, err := Extract(openFile(t, path), dir); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("Extract() error = %v, want a storage error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, RDBFile)); !os.IsNotExist(err) {
		t.Errorf("Extract left a dump.rdb on the full disk: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
