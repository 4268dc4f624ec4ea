package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"math"
	"testing"
)

// rdbBuilder writes RDBs by hand, for the encodings of engines older than
// the one installed (ziplists, old zsets, second expiries).
type rdbBuilder struct{ bytes.Buffer }

func newRDB(version int) *rdbBuilder {
	b := &rdbBuilder{}
	fmt.Fprintf(b, "REDIS%04d", version)
	return b
}

func (b *rdbBuilder) length(n uint64) {
	switch {
	case n < 64:
		b.WriteByte(byte(n))
	case n < 16384:
		b.WriteByte(0x40 | byte(n>>8))
		b.WriteByte(byte(n))
	default:
		b.WriteByte(0x80)
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	}
}

func (b *rdbBuilder) str(s string) {
	b.length(uint64(len(s)))
	b.WriteString(s)
}

func (b *rdbBuilder) key(t byte, name string) {
	b.WriteByte(t)
	b.str(name)
}

func (b *rdbBuilder) end() []byte {
	b.WriteByte(opEOF)
	b.Write(make([]byte, 8))
	return b.Bytes()
}

// ziplistOf encodes elements (string or int64) as a ziplist, choosing the
// smallest encoding for each as the engine did.
func ziplistOf(elems ...any) []byte {
	var body []byte
	prev, tail := 0, 10
	for _, e := range elems {
		var ent []byte
		if prev < 254 {
			ent = append(ent, byte(prev))
		} else {
			ent = append(append(ent, 0xfe), binary.LittleEndian.AppendUint32(nil, uint32(prev))...)
		}
		switch v := e.(type) {
		case string:
			n := len(v)
			switch {
			case n < 64:
				ent = append(ent, byte(n))
			case n < 16384:
				ent = append(ent, 0x40|byte(n>>8), byte(n))
			default:
				ent = append(append(ent, 0x80), binary.BigEndian.AppendUint32(nil, uint32(n))...)
			}
			ent = append(ent, v...)
		case int64:
			switch {
			case v >= 0 && v <= 12:
				ent = append(ent, 0xf1+byte(v))
			case v == int64(int8(v)):
				ent = append(ent, 0xfe, byte(v))
			case v == int64(int16(v)):
				ent = append(append(ent, 0xc0), binary.LittleEndian.AppendUint16(nil, uint16(v))...)
			case v >= -(1<<23) && v < 1<<23:
				ent = append(ent, 0xf0, byte(v), byte(v>>8), byte(v>>16))
			case v == int64(int32(v)):
				ent = append(append(ent, 0xd0), binary.LittleEndian.AppendUint32(nil, uint32(v))...)
			default:
				ent = append(append(ent, 0xe0), binary.LittleEndian.AppendUint64(nil, uint64(v))...)
			}
		}
		tail = 10 + len(body)
		body = append(body, ent...)
		prev = len(ent)
	}
	zl := binary.LittleEndian.AppendUint32(nil, uint32(10+len(body)+1))
	zl = binary.LittleEndian.AppendUint32(zl, uint32(tail))
	zl = binary.LittleEndian.AppendUint16(zl, uint16(len(elems)))
	return append(append(zl, body...), 0xff)
}

func intsetOf(width int, vals ...int64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(width))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vals)))
	for _, v := range vals {
		switch width {
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	return b
}

// The encodings of older engines (ziplists, quicklists of ziplists, old
// zsets with text scores, expiries in seconds) digest like the plain forms
// of the same data.
func TestOldEncodingsDigestLikePlainOnes(t *testing.T) {
	long := string(bytes.Repeat([]byte("z"), 300))
	listElems := []any{"a", int64(0), int64(12), int64(-7), int64(300), int64(-70000), int64(1 << 40), long, "last"}

	old := newRDB(9)
	old.key(typeListZiplist, "list")
	old.str(string(ziplistOf(listElems...)))
	old.key(typeListQuicklist, "qlist")
	old.length(2)
	old.str(string(ziplistOf(listElems[:4]...)))
	old.str(string(ziplistOf(listElems[4:]...)))
	old.key(typeHashZiplist, "hash")
	old.str(string(ziplistOf("f1", "v1", "n", int64(42))))
	old.key(typeZSetZiplist, "zset")
	old.str(string(ziplistOf("one", int64(1), "half", "0.5", "inf", "inf")))
	old.key(typeSetIntset, "set")
	old.str(string(intsetOf(8, -5, 1, 1<<40)))
	old.key(typeZSet, "zset-text")
	old.length(2)
	old.str("a")
	old.WriteByte(3)
	old.WriteString("1.5")
	old.str("b")
	old.WriteByte(255) // -inf
	old.WriteByte(opExpireTime)
	old.Write(binary.LittleEndian.AppendUint32(nil, 2_000_000_000))
	old.key(typeString, "expiring")
	old.str("v")

	plain := newRDB(9)
	plain.key(typeList, "list")
	plain.length(uint64(len(listElems)))
	for _, e := range listElems {
		plain.str(fmt.Sprint(e))
	}
	plain.key(typeList, "qlist")
	plain.length(uint64(len(listElems)))
	for _, e := range listElems {
		plain.str(fmt.Sprint(e))
	}
	plain.key(typeHash, "hash")
	plain.length(2)
	for _, s := range []string{"n", "42", "f1", "v1"} {
		plain.str(s)
	}
	plain.key(typeZSet2, "zset")
	plain.length(3)
	for _, m := range []struct {
		name  string
		score float64
	}{{"half", 0.5}, {"one", 1}, {"inf", math.Inf(1)}} {
		plain.str(m.name)
		plain.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(m.score)))
	}
	plain.key(typeSet, "set")
	plain.length(3)
	for _, s := range []string{"1099511627776", "-5", "1"} {
		plain.str(s)
	}
	plain.key(typeZSet2, "zset-text")
	plain.length(2)
	plain.str("b")
	plain.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Inf(-1))))
	plain.str("a")
	plain.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1.5)))
	plain.WriteByte(opExpireTimeMS)
	plain.Write(binary.LittleEndian.AppendUint64(nil, 2_000_000_000_000))
	plain.key(typeString, "expiring")
	plain.str("v")

	got, err := Scan(bytes.NewReader(old.end()), nil)
	if err != nil {
		t.Fatalf("Scan(old encodings) error = %v", err)
	}
	want, err := Scan(bytes.NewReader(plain.end()), nil)
	if err != nil {
		t.Fatalf("Scan(plain encodings) error = %v", err)
	}
	if got.Keys != 7 || got.Keys != want.Keys || got.Digest != want.Digest {
		t.Errorf("old encodings: %d keys, %s; plain: %d keys, %s", got.Keys, got.Digest, want.Keys, want.Digest)
	}
}

func TestBlobsRefuseBadInput(t *testing.T) {
	zl := ziplistOf("a", int64(5))
	for _, tc := range []struct {
		name string
		walk func([]byte, func(elem) error) error
		blob []byte
	}{
		{"ziplist too short", ziplist, zl[:5]},
		{"ziplist with a wrong size", ziplist, append(append([]byte{}, zl[:len(zl)-1]...), 0, 0xff)},
		{"ziplist entry past the end", ziplist, func() []byte {
			b := append([]byte{}, zl...)
			b[11] = 60 // a 60-byte string in a 2-byte slot
			return b
		}()},
		{"listpack without terminator", listpack, []byte{7, 0, 0, 0, 1, 0, 0x01}},
		{"listpack with an unknown encoding", listpack, []byte{9, 0, 0, 0, 1, 0, 0xf5, 1, 0xff}},
		{"intset with a bad width", intset, []byte{3, 0, 0, 0, 0, 0, 0, 0}},
		{"intset shorter than its count", intset, intsetOf(4, 1, 2)[:11]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.walk(tc.blob, func(elem) error { return nil }); !errors.Is(err, errBlob) {
				t.Errorf("error = %v, want a bad blob", err)
			}
		})
	}
}

func TestLZFRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		outSize int
	}{
		{"literal past the input", []byte{5, 'a'}, 6},
		{"literal past the output", []byte{2, 'a', 'b', 'c'}, 2},
		{"reference before the start", []byte{0, 'a', 0x20, 5}, 4},
		{"reference cut short", []byte{0, 'a', 0x20}, 4},
		{"short output", []byte{0, 'a'}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := lzfDecompress(tc.in, make([]byte, tc.outSize)); err == nil {
				t.Error("lzfDecompress() = nil, want an error")
			}
		})
	}
	out := make([]byte, 7)
	if err := lzfDecompress([]byte{1, 'a', 'b', 0x60, 1}, out); err != nil || string(out) != "abababa" {
		t.Errorf("lzfDecompress(overlapping reference) = %q, %v; want abababa", out, err)
	}
}

func TestCRC64(t *testing.T) {
	// The engine's own test vector (crc64.c).
	if got := CRC64([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Errorf("CRC64(123456789) = %x, want e9c6d914c4b8d9ca", got)
	}
	// Slicing by 8 agrees with the byte-at-a-time definition at every length.
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i*7 + i>>3)
	}
	tab := crc64.MakeTable(0x95ac9329ac4bc9b5)
	for n := range len(data) {
		if got, want := CRC64(data[:n]), ^crc64.Update(^uint64(0), tab, data[:n]); got != want {
			t.Fatalf("CRC64(%d bytes) = %x, want %x", n, got, want)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add(newRDB(9).end())
	b := newRDB(10)
	b.key(typeHashZiplist, "h")
	b.str(string(ziplistOf("f", "v", "n", int64(-300))))
	b.key(typeSetIntset, "s")
	b.str(string(intsetOf(2, 1, 2, 3)))
	f.Add(b.end())
	f.Add([]byte("REDIS0011\xfa\x09redis-ver\x067.2.0\xfe\x00\xfb\x01\x00\x00\x01k\xc3\x04\x05\x00a\xe0\x00\x00\xff" + string(make([]byte, 8))))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		sum, err := Scan(bytes.NewReader(data), &Options{OnKey: func(k *Key) error {
			n++
			if len(k.Payload) == 0 {
				t.Fatal("a key without a payload")
			}
			return nil
		}})
		if err != nil {
			return
		}
		if sum.Keys != int64(n) || sum.Bytes != int64(len(data)) {
			t.Fatalf("Summary = %d keys, %d bytes; saw %d keys in %d bytes", sum.Keys, sum.Bytes, n, len(data))
		}
	})
}
