package rdb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"larder/backup/scratch"
)

// liveDigest computes the digest of what a running node serves through its
// ordinary read commands (SCAN, TYPE, PEXPIRETIME, GET, LRANGE, SMEMBERS,
// ZRANGE, HGETALL, XRANGE, XINFO, FUNCTION LIST): a computation that shares
// nothing with the RDB reader but the hash, so that the reader's digest is
// checked against the engine's own view of the data.
func liveDigest(t *testing.T, s *scratch.Server) (digest string, keys int64) {
	t.Helper()
	ctx := context.Background()
	d := NewDigest()
	for db := range 16 {
		c := s.Client(db)
		iter := c.Scan(ctx, 0, "", 1000).Iterator()
		for iter.Next(ctx) {
			name := iter.Val()
			d.Key(db, []byte(name), pexpiretime(t, c, name), liveValue(t, c, name))
			keys++
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	c := s.Client(0)
	defer c.Close()
	libs, err := c.Do(ctx, "FUNCTION", "LIST", "WITHCODE").Slice()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		fields := lib.([]any)
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "library_code" {
				d.Function([]byte(fields[i+1].(string)))
			}
		}
	}
	return d.String(), keys
}

func pexpiretime(t *testing.T, c *redis.Client, key string) int64 {
	t.Helper()
	ms, err := c.Do(context.Background(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func liveValue(t *testing.T, c *redis.Client, key string) uint64 {
	t.Helper()
	ctx := context.Background()
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read %s %q: %v", typ, key, err)
		}
	}
	var v *Value
	switch typ {
	case "string":
		s, err := c.Get(ctx, key).Result()
		must(err)
		v = NewValue(TypeString)
		v.String([]byte(s))
	case "list":
		l, err := c.LRange(ctx, key, 0, -1).Result()
		must(err)
		v = NewValue(TypeList)
		for _, e := range l {
			v.ListElem([]byte(e))
		}
	case "set":
		m, err := c.SMembers(ctx, key).Result()
		must(err)
		v = NewValue(TypeSet)
		for _, e := range m {
			v.Member([]byte(e))
		}
	case "zset":
		z, err := c.ZRangeWithScores(ctx, key, 0, -1).Result()
		must(err)
		v = NewValue(TypeZSet)
		for _, e := range z {
			v.Scored([]byte(e.Member.(string)), e.Score)
		}
	case "hash":
		h, err := c.HGetAll(ctx, key).Result()
		must(err)
		v = NewValue(TypeHash)
		for f, val := range h {
			v.Field([]byte(f), []byte(val))
		}
	case "stream":
		v = liveStream(t, c, key)
	default:
		t.Fatalf("key %q has type %s", key, typ)
	}
	return v.Sum()
}

func liveStream(t *testing.T, c *redis.Client, key string) *Value {
	t.Helper()
	ctx := context.Background()
	v := NewValue(TypeStream)
	entries, err := c.XRange(ctx, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ms, seq := parseID(t, e.ID)
		// XRANGE's reply keeps the entry's field order; go-redis's map does
		// not, so the raw reply is read instead.
		raw := rawEntry(t, c, key, e.ID)
		v.StreamEntry(ms, seq, len(raw)/2)
		for i := 0; i+1 < len(raw); i += 2 {
			v.StreamField([]byte(raw[i]), []byte(raw[i+1]))
		}
	}
	full, err := c.XInfoStreamFull(ctx, key, 1<<20).Result()
	if err != nil {
		t.Fatal(err)
	}
	lastMS, lastSeq := parseID(t, full.LastGeneratedID)
	v.StreamEnd(uint64(full.Length), lastMS, lastSeq)
	for _, g := range full.Groups {
		ms, seq := parseID(t, g.LastDeliveredID)
		gd := NewGroup([]byte(g.Name), ms, seq)
		for _, p := range g.Pending {
			ms, seq := parseID(t, p.ID)
			gd.Pending(ms, seq, uint64(p.DeliveryCount))
		}
		for _, con := range g.Consumers {
			gd.Consumer([]byte(con.Name))
			for _, p := range con.Pending {
				ms, seq := parseID(t, p.ID)
				gd.ConsumerPending(ms, seq)
			}
		}
		v.Group(gd)
	}
	return v
}

func rawEntry(t *testing.T, c *redis.Client, key, id string) []string {
	t.Helper()
	r, err := c.Do(context.Background(), "XRANGE", key, id, id).Slice()
	if err != nil || len(r) != 1 {
		t.Fatalf("XRANGE %s %s: %v %v", key, id, r, err)
	}
	var out []string
	for _, f := range r[0].([]any)[1].([]any) {
		out = append(out, f.(string))
	}
	return out
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

// populate writes a dataset that exercises every type and, with the
// engine's default thresholds, both encodings of each: small collections in
// listpacks or intsets, large ones in hash tables, skiplists and quicklists.
func populate(t *testing.T, s *scratch.Server) {
	t.Helper()
	ctx := context.Background()
	c := s.Client(0)
	defer c.Close()
	do := func(args ...any) {
		t.Helper()
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	big := strings.Repeat("compressible ", 100)
	do("SET", "str", "hello")
	do("SET", "int8", "7")
	do("SET", "int16", "-1234")
	do("SET", "int32", "123456789")
	do("SET", "int64", "1234567890123")
	do("SET", "empty", "")
	do("SET", "binary", "a\x00b\xffc\r\n")
	do("SET", "lzf", big)
	do("SET", "ttl", "expires", "PXAT", 4_102_444_800_000)
	do("RPUSH", "list:small", "a", "1", "-5", "70000", big)
	for i := range 300 {
		do("RPUSH", "list:big", fmt.Sprintf("element-%d", i), i)
		do("SADD", "set:big", fmt.Sprintf("member-%d", i))
		do("ZADD", "zset:big", i, fmt.Sprintf("member-%d", i))
		do("HSET", "hash:big", fmt.Sprintf("field-%d", i), i)
	}
	// A quicklist node holding one element alone (a "plain" node): the
	// engine makes one for elements above a threshold a debug command lowers.
	do("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 100)
	do("RPUSH", "list:plain", "x", strings.Repeat("p", 500), "y")
	do("SADD", "set:intset", 1, -2, 300, 70000, 5_000_000_000)
	do("SADD", "set:small", "a", "b", "17")
	do("ZADD", "zset:small", 1, "one", 2.5, "two and a half", -3, "minus three", "+inf", "top", "-inf", "bottom", 0, "zero")
	do("HSET", "hash:small", "f1", "v1", "n", 42, "long", big)
	do("HSET", "hash:ttl", "f", "v")
	do("PEXPIREAT", "hash:ttl", 4_102_444_800_000) // 2100-01-01
	// Streams: entries with the master's fields and with others, a deleted
	// entry, two groups (one with pending entries on two consumers, one
	// empty), and an empty stream that only holds a group.
	do("XADD", "stream", "1-1", "a", "1", "b", "2")
	do("XADD", "stream", "1-2", "a", "3", "b", "4")
	do("XADD", "stream", "2-0", "other", "x")
	do("XADD", "stream", "3-0", "a", "5", "b", "6")
	do("XDEL", "stream", "1-2")
	for i := range 150 { // more than one listpack node
		do("XADD", "stream", fmt.Sprintf("%d-0", 10+i), "n", i, "text", big[:40])
	}
	do("XGROUP", "CREATE", "stream", "workers", "0")
	do("XGROUP", "CREATE", "stream", "idle", "$")
	do("XREADGROUP", "GROUP", "workers", "alice", "COUNT", 2, "STREAMS", "stream", ">")
	do("XREADGROUP", "GROUP", "workers", "bob", "COUNT", 3, "STREAMS", "stream", ">")
	do("XACK", "stream", "workers", "1-1")
	do("XGROUP", "CREATE", "empty-stream", "g", "$", "MKSTREAM")
	do("FUNCTION", "LOAD", "#!lua name=backuplib\nredis.register_function('ping_backup', function() return 'pong' end)")
	c3 := s.Client(3)
	defer c3.Close()
	for _, args := range [][]any{{"SET", "db3:key", "v"}, {"SET", "db3:ttl", "v", "PXAT", 4_102_444_800_000}} {
		if err := c3.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}
