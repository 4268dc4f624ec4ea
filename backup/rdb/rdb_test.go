package rdb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"larder/backup/scratch"
)

// startNode starts a scratch engine (skipping the test when none is
// installed) with the debug command allowed, for the encodings populate
// needs.
func startNode(t *testing.T, config ...string) *scratch.Server {
	t.Helper()
	if _, err := scratch.FindEngine(); err != nil {
		t.Skipf("no engine: %v", err)
	}
	s, err := scratch.Start(context.Background(), scratch.Options{Config: append([]string{"enable-debug-command yes"}, config...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// save makes the node write its RDB and returns it.
func save(t *testing.T, s *scratch.Server) []byte {
	t.Helper()
	c := s.Client(0)
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Every encoding the engine writes is read, and the digest of the RDB is
// the digest of what the engine serves, whichever encodings it chose.
func TestScanMatchesEngine(t *testing.T) {
	var digests []string
	for _, tc := range []struct {
		name   string
		config []string
	}{
		{"default encodings", nil},
		{"hash tables, skiplists and one-element list nodes", []string{
			"hash-max-listpack-entries 0", "zset-max-listpack-entries 0",
			"set-max-intset-entries 0", "list-max-listpack-size 1", "stream-node-max-entries 2",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startNode(t, tc.config...)
			populate(t, s)
			wantDigest, wantKeys := liveDigest(t, s)
			sum, err := Scan(bytes.NewReader(save(t, s)), nil)
			if err != nil {
				t.Fatalf("Scan() error = %v", err)
			}
			if sum.Keys != wantKeys || sum.Digest != wantDigest {
				t.Errorf("Scan() = %d keys, digest %s; the engine serves %d keys, digest %s", sum.Keys, sum.Digest, wantKeys, wantDigest)
			}
			wantDBs := []DB{{DB: 0, Keys: wantKeys - 2, Expires: 2}, {DB: 3, Keys: 2, Expires: 1}}
			if len(sum.DBs) != 2 || sum.DBs[0] != wantDBs[0] || sum.DBs[1] != wantDBs[1] {
				t.Errorf("DBs = %+v, want %+v", sum.DBs, wantDBs)
			}
			if sum.Functions != 1 || sum.Version < 9 || sum.Aux["redis-ver"] == "" && sum.Aux["valkey-ver"] == "" {
				t.Errorf("Functions = %d, Version = %d, Aux = %v", sum.Functions, sum.Version, sum.Aux)
			}
			digests = append(digests, sum.Digest)
		})
	}
	if len(digests) == 2 && digests[0] != digests[1] {
		t.Errorf("the same data in other encodings digests differently: %s vs %s", digests[0], digests[1])
	}
}

// Each key's payload, with the version and CRC appended, is what DUMP
// returns: the bytes RESTORE takes.
func TestDumpPayloadMatchesEngine(t *testing.T) {
	s := startNode(t)
	populate(t, s)
	data := save(t, s)
	ctx := context.Background()
	var version int
	if sum, err := Scan(bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	} else {
		version = sum.Version
	}
	checked := 0
	var buf []byte
	_, err := Scan(bytes.NewReader(data), &Options{
		OnKey: func(k *Key) error {
			c := s.Client(k.DB)
			defer c.Close()
			want, err := c.Dump(ctx, string(k.Name)).Result()
			if err != nil {
				return err
			}
			buf = DumpPayload(buf, k.Payload, version)
			if !bytes.Equal(buf, []byte(want)) {
				t.Errorf("payload of %q (%s) differs from DUMP's (%d vs %d bytes)", k.Name, k.Type, len(buf), len(want))
			}
			checked++
			return nil
		},
		OnFunction: func(payload []byte) error {
			c := s.Client(0)
			defer c.Close()
			want, err := c.Do(ctx, "FUNCTION", "DUMP").Text()
			if err != nil {
				return err
			}
			if got := DumpPayload(nil, payload, version); !bytes.Equal(got, []byte(want)) {
				t.Errorf("function payload differs from FUNCTION DUMP's")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Errorf("checked %d keys, want every key of the dataset", checked)
	}
}

// A truncated RDB is an error wherever it is cut, never a smaller dataset.
func TestScanTruncated(t *testing.T) {
	s := startNode(t)
	populate(t, s)
	data := save(t, s)
	for cut := 0; cut < len(data); cut += 1 + cut/50 {
		if _, err := Scan(bytes.NewReader(data[:cut]), nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Scan(first %d of %d bytes) error = %v, want ErrCorrupt", cut, len(data), err)
		}
	}
	if _, err := Scan(bytes.NewReader(append(data, 'x')), nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Scan(rdb + trailing byte) error = %v, want ErrCorrupt", err)
	}
}

func TestScanRefusesWhatIsNoRDB(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "not an RDB"},
		{"text", "hello world, not an rdb", "not an RDB"},
		{"bad version", "REDIS00x1", "bad RDB version"},
		{"unknown opcode", "REDIS0010\xf0", "unknown opcode or value type 240"},
		{"zipmap", "REDIS0010\x09\x01k\x00", "zipmap"},
		{"hash with field expiries", "REDIS0012\x18\x01k", "field expiries"},
		{"bad length", "REDIS0010\xfe\xbf", "bad length byte 0xbf"},
		{"string encoding for a length", "REDIS0010\xfe\xc0", "a string encoding where a length was expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan(bytes.NewReader([]byte(tc.data)), nil)
			if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("Scan(%q) error = %v, want ErrCorrupt saying %q", tc.data, err, tc.want)
			}
		})
	}
}
