package rdb

import (
	"strconv"
	"strings"
	"testing"

	"larder/backup/internal/fixture"
	"larder/backup/scratch"
)

// liveDigest computes the digest of what a running node serves through its
// ordinary read commands (fixture.Read): a computation that shares nothing
// with the RDB reader but the hash, so that the reader's digest is checked
// against the engine's own view of the data.
func liveDigest(t *testing.T, s *scratch.Server) (digest string, keys int64) {
	t.Helper()
	d := NewDigest()
	all, functions := fixture.Read(t, s.Client)
	for _, k := range all {
		d.Key(k.DB, []byte(k.Name), k.ExpireMS, liveValue(t, k))
	}
	for _, code := range functions {
		d.Function([]byte(code))
	}
	return d.String(), int64(len(all))
}

func liveValue(t *testing.T, k fixture.Key) uint64 {
	t.Helper()
	var v *Value
	switch k.Type {
	case "string":
		v = NewValue(TypeString)
		v.String([]byte(k.String))
	case "list":
		v = NewValue(TypeList)
		for _, e := range k.List {
			v.ListElem([]byte(e))
		}
	case "set":
		v = NewValue(TypeSet)
		for _, e := range k.Set {
			v.Member([]byte(e))
		}
	case "zset":
		v = NewValue(TypeZSet)
		for _, e := range k.ZSet {
			v.Scored([]byte(e.Member.(string)), e.Score)
		}
	case "hash":
		v = NewValue(TypeHash)
		for f, val := range k.Hash {
			v.Field([]byte(f), []byte(val))
		}
	case "stream":
		v = liveStream(t, k.Stream)
	default:
		t.Fatalf("key %q has type %s", k.Name, k.Type)
	}
	return v.Sum()
}

func liveStream(t *testing.T, s *fixture.Stream) *Value {
	t.Helper()
	v := NewValue(TypeStream)
	for _, e := range s.Entries {
		ms, seq := parseID(t, e.ID)
		v.StreamEntry(ms, seq, len(e.Fields)/2)
		for i := 0; i+1 < len(e.Fields); i += 2 {
			v.StreamField([]byte(e.Fields[i]), []byte(e.Fields[i+1]))
		}
	}
	lastMS, lastSeq := parseID(t, s.LastID)
	v.StreamEnd(uint64(s.Length), lastMS, lastSeq)
	for _, g := range s.Groups {
		ms, seq := parseID(t, g.LastID)
		gd := NewGroup([]byte(g.Name), ms, seq)
		for _, p := range g.Pending {
			ms, seq := parseID(t, p.ID)
			gd.Pending(ms, seq, uint64(p.Deliveries))
		}
		for _, con := range g.Consumers {
			gd.Consumer([]byte(con.Name))
			for _, id := range con.Pending {
				gd.ConsumerPending(parseID(t, id))
			}
		}
		v.Group(gd)
	}
	return v
}

func parseID(t *testing.T, id string) (ms, seq uint64) {
	t.Helper()
	a, b, ok := strings.Cut(id, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("bad stream id %q", id)
	}
	return ms, seq
}

// populate fills a scratch node with fixture's dataset.
func populate(t *testing.T, s *scratch.Server) {
	t.Helper()
	fixture.Populate(t, s.Client)
}
