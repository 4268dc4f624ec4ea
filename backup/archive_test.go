package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"larder/backup/rdb"
)

// emptyRDB is the RDB of an empty dataset.
var emptyRDB = append([]byte("REDIS0010\xff"), make([]byte, 8)...)

// buildArchive writes an archive of rdbData with the capture's own writer
// and a manifest that describes it.
func buildArchive(t testing.TB, rdbData []byte) ([]byte, *Manifest) {
	t.Helper()
	sum, err := rdb.Scan(bytes.NewReader(rdbData), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "a.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	aw, err := newArchiveWriter(f, 6)
	if err != nil {
		t.Fatal(err)
	}
	aw.Write(rdbData)
	m := &Manifest{Format: ManifestFormat, Keys: sum.Keys, DBs: sum.DBs, Digest: sum.Digest, RDBVersion: sum.Version,
		Files: []File{aw.rdbFile()}, StartedAt: time.Unix(1, 0).UTC(), FinishedAt: time.Unix(2, 0).UTC()}
	data, _ := json.Marshal(m)
	if err := aw.finish(data, m.FinishedAt); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

// The archive's first member is rewritten in place at the end: whatever the
// RDB's size, gzip and tar readers see one archive of two files.
func TestArchiveLayout(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 513, 100_000} {
		rdbData := append(bytes.Repeat([]byte{0}, 0), emptyRDB...)
		// Pad the RDB with an aux field to reach the size (the reader
		// needs a valid RDB; the layout only cares about the length).
		if size > len(emptyRDB)+4 {
			pad := size - len(emptyRDB) - 4
			aux := []byte{0xfa, 1, 'k', 0x80}
			aux = append(aux, byte(pad>>24), byte(pad>>16), byte(pad>>8), byte(pad))
			aux = append(aux, bytes.Repeat([]byte("v"), pad)...)
			rdbData = append(append([]byte("REDIS0010"), aux...), emptyRDB[9:]...)
		}
		archive, m := buildArchive(t, rdbData)
		files := members(t, archive)
		if !bytes.Equal(files[RDBFile], rdbData) || len(files) != 2 {
			t.Errorf("size %d: the archive holds %d files, dump.rdb of %d bytes", len(rdbData), len(files), len(files[RDBFile]))
		}
		got, err := Check(bytes.NewReader(archive))
		if err != nil || got.Digest != m.Digest {
			t.Errorf("size %d: Check() = %v, %v", len(rdbData), got, err)
		}
	}
}

func TestManifestValidate(t *testing.T) {
	good := func() *Manifest {
		return &Manifest{Format: 1, Keys: 3, DBs: []rdb.DB{{DB: 0, Keys: 2, Expires: 1}, {DB: 2, Keys: 1}},
			Digest: rdb.DigestPrefix + "0123456789abcdef",
			Files:  []File{{Name: RDBFile, Size: 10, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Manifest)
		want   string
	}{
		{"format", func(m *Manifest) { m.Format = 2 }, "format 2"},
		{"no rdb", func(m *Manifest) { m.Files = nil }, "no dump.rdb"},
		{"unknown file", func(m *Manifest) { m.Files = append(m.Files, File{Name: "../x"}) }, `unknown file "../x"`},
		{"twice", func(m *Manifest) { m.Files = append(m.Files, m.Files[0]) }, "listed twice"},
		{"negative size", func(m *Manifest) { m.Files[0].Size = -1 }, "negative size"},
		{"bad sha", func(m *Manifest) { m.Files[0].SHA256 = "xyz" }, "malformed sha256"},
		{"db twice", func(m *Manifest) { m.DBs[1].DB = 0 }, "bad database entry"},
		{"more expires than keys", func(m *Manifest) { m.DBs[1].Expires = 2 }, "bad database entry"},
		{"key count", func(m *Manifest) { m.Keys = 4 }, "its databases hold 3 keys, it says 4"},
		{"digest", func(m *Manifest) { m.Digest = "md5:x" }, "unknown digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.change(m)
			if err := m.Validate(); err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// Whatever bytes it is given, the archive reader answers an error (a
// corrupt one for bad content) or a manifest that describes the data; it
// never panics nor trusts an unchecked file.
func FuzzCheck(f *testing.F) {
	archive, _ := buildArchive(f, emptyRDB)
	f.Add(archive)
	f.Add(archive[:headerMemberSize])
	f.Add(archive[headerMemberSize:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Check(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Check() error %v is not a corrupt-backup error", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Check() accepted a manifest that does not validate: %v", err)
		}
		if files := members(t, data); len(files[RDBFile]) != int(m.Files[0].Size) {
			t.Fatalf("Check() accepted %d bytes of dump.rdb, the manifest says %d", len(files[RDBFile]), m.Files[0].Size)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	_, m := buildArchive(f, emptyRDB)
	good, _ := json.Marshal(m)
	f.Add(good)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err == nil && m.Validate() != nil {
			t.Fatal("parseManifest accepted an invalid manifest")
		}
	})
}
