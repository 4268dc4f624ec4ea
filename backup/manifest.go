package backup

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"larder/backup/rdb"
	"larder/fault"
)

// Names inside an archive.
const (
	RDBFile      = "dump.rdb"
	ManifestFile = "manifest.json"
)

// ManifestFormat is the version of the manifest's layout.
const ManifestFormat = 1

// maxManifest bounds the manifest read from an archive.
const maxManifest = 1 << 20

// Manifest describes a backup. It is the archive's last file, and the
// broker keeps a copy with its record of the backup.
type Manifest struct {
	Format     int       `json:"format"`
	AddonID    string    `json:"addon_id"`
	AddonName  string    `json:"addon_name"`
	Plan       string    `json:"plan"`
	Engine     Engine    `json:"engine"`
	RDBVersion int       `json:"rdb_version"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Source     Source    `json:"source"`
	Keys       int64     `json:"keys"`
	DBs        []rdb.DB  `json:"dbs"`
	Functions  int       `json:"functions"`
	// Digest is computed from the RDB's content while it is captured (see
	// rdb.Value): verification recomputes it from what an engine loaded.
	Digest string `json:"digest"`
	Files  []File `json:"files"`
}

// Engine names the engine that wrote the snapshot.
type Engine struct {
	Name    string `json:"name"` // "valkey" or "redis"
	Version string `json:"version"`
}

// Source is the node the snapshot was taken from.
type Source struct {
	Node    string `json:"node"`
	Role    string `json:"role,omitempty"` // "primary" or "standby"
	Address string `json:"address"`
}

// File is one file of the archive besides the manifest.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// file returns the manifest's entry for name.
func (m *Manifest) file(name string) (File, bool) {
	for _, f := range m.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// Validate checks that the manifest is complete and consistent with itself.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fault.E(fault.Invalid, "manifest: "+format, args...)
	}
	if m.Format != ManifestFormat {
		return bad("format %d, this larder reads %d", m.Format, ManifestFormat)
	}
	if _, ok := m.file(RDBFile); !ok {
		return bad("no %s listed", RDBFile)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if f.Name != RDBFile {
			return bad("unknown file %q", truncate(f.Name))
		}
		if seen[f.Name] {
			return bad("%s listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Size < 0 {
			return bad("%s has a negative size", f.Name)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 {
			return bad("%s has a malformed sha256 %q", f.Name, truncate(f.SHA256))
		}
	}
	var keys int64
	dbs := map[int]bool{}
	for _, d := range m.DBs {
		if d.Keys < 0 || d.Expires < 0 || d.Expires > d.Keys || d.DB < 0 || dbs[d.DB] {
			return bad("bad database entry %+v", d)
		}
		dbs[d.DB] = true
		keys += d.Keys
	}
	if keys != m.Keys {
		return bad("its databases hold %d keys, it says %d", keys, m.Keys)
	}
	if !strings.HasPrefix(m.Digest, rdb.DigestPrefix) {
		return bad("unknown digest %q", truncate(m.Digest))
	}
	return nil
}

func parseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "manifest: not valid JSON")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// engineFromAux names the engine from the RDB's aux fields, for captures
// whose caller did not say.
func engineFromAux(aux map[string]string) Engine {
	if v := aux["valkey-ver"]; v != "" {
		return Engine{Name: "valkey", Version: v}
	}
	return Engine{Name: "redis", Version: aux["redis-ver"]}
}

// describe is the one-line summary used in logs and errors.
func (m *Manifest) describe() string {
	return fmt.Sprintf("%d keys, %s", m.Keys, m.Digest)
}
