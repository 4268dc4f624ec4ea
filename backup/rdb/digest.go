package rdb

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
)

// Type is a key's logical type, whatever encoding holds it.
type Type byte

// The logical types.
const (
	TypeString Type = iota + 1
	TypeList
	TypeSet
	TypeZSet
	TypeHash
	TypeStream
	TypeModule
)

var typeNames = [...]string{"", "string", "list", "set", "zset", "hash", "stream", "module"}

func (t Type) String() string {
	if int(t) < len(typeNames) && t > 0 {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// DigestPrefix names the digest algorithm; a digest without it is not ours.
const DigestPrefix = "xxh64sum-v1:"

// The digest is defined on what clients see, not on how the engine encodes
// it, so that an RDB and the RDB an engine saves after loading it digest
// alike even when the two engines chose other encodings:
//
//	value   = xxh64(type, element count, xxh64 of the ordered part, sum of the unordered part)
//	string  : ordered part = the bytes
//	list    : ordered part = each element, length-prefixed
//	set     : unordered    = xxh64(member) per member
//	zset    : unordered    = xxh64(len, member, score bits) per member
//	hash    : unordered    = xxh64(len, field, value) per field
//	stream  : ordered part = each live entry (id, field count, fields and values),
//	          then length and last id; unordered = one xxh64 per consumer group
//	          (name, last delivered id, pending ids with delivery counts, and the
//	          sum of its consumers' xxh64(name, pending ids))
//	key     = xxh64(db, len, name, expiry in ms or -1, value)
//	dataset = sum of every key's digest and of xxh64("function", code) per
//	          function library, mod 2^64
//
// Integers stored in binary count as their decimal text, scores as the bits
// of their float64 (0 for -0), expiries as absolute unix milliseconds. Access
// times (LRU/LFU), consumers' seen times and delivery times are left out:
// they are not data, and they move on their own.

// Value accumulates the digest of one value. Reset it before each value.
type Value struct {
	t   Type
	n   uint64
	seq *xxhash.Digest // the ordered part
	sum uint64         // the unordered part
	el  *xxhash.Digest // one element of the unordered part
	b   [8]byte
}

// NewValue returns a Value ready for a value of type t.
func NewValue(t Type) *Value {
	v := &Value{seq: xxhash.New(), el: xxhash.New()}
	v.Reset(t)
	return v
}

// Reset starts a new value of type t.
func (v *Value) Reset(t Type) {
	v.t, v.n, v.sum = t, 0, 0
	v.seq.Reset()
}

func (v *Value) u64(d *xxhash.Digest, x uint64) {
	binary.LittleEndian.PutUint64(v.b[:], x)
	d.Write(v.b[:])
}

func (v *Value) prefixed(d *xxhash.Digest, b []byte) {
	v.u64(d, uint64(len(b)))
	d.Write(b)
}

// String adds (part of) a string value.
func (v *Value) String(b []byte) {
	v.n += uint64(len(b))
	v.seq.Write(b)
}

// ListElem adds the next element of a list.
func (v *Value) ListElem(b []byte) {
	v.n++
	v.prefixed(v.seq, b)
}

// Member adds a member of a set.
func (v *Value) Member(b []byte) {
	v.n++
	v.sum += xxhash.Sum64(b)
}

// Scored adds a member of a sorted set with its score.
func (v *Value) Scored(member []byte, score float64) {
	if score == 0 {
		score = 0 // -0 and 0 are one score to clients
	}
	v.n++
	v.el.Reset()
	v.prefixed(v.el, member)
	v.u64(v.el, math.Float64bits(score))
	v.sum += v.el.Sum64()
}

// Field adds a field of a hash with its value.
func (v *Value) Field(field, value []byte) {
	v.n++
	v.el.Reset()
	v.prefixed(v.el, field)
	v.el.Write(value)
	v.sum += v.el.Sum64()
}

// StreamEntry starts the next live entry of a stream; its fields and values
// follow with StreamField.
func (v *Value) StreamEntry(ms, seq uint64, fields int) {
	v.n++
	v.u64(v.seq, ms)
	v.u64(v.seq, seq)
	v.u64(v.seq, uint64(fields))
}

// StreamField adds a field and its value to the current stream entry.
func (v *Value) StreamField(field, value []byte) {
	v.prefixed(v.seq, field)
	v.prefixed(v.seq, value)
}

// StreamEnd adds the stream's length and last id, after its entries.
func (v *Value) StreamEnd(length, lastMS, lastSeq uint64) {
	v.u64(v.seq, length)
	v.u64(v.seq, lastMS)
	v.u64(v.seq, lastSeq)
}

// Group adds a consumer group's digest (see Group).
func (v *Value) Group(g *Group) { v.sum += g.Sum() }

// ModuleItem adds one item of a module's value (its opcode and bytes).
func (v *Value) ModuleItem(op uint64, b []byte) {
	v.n++
	v.u64(v.seq, op)
	v.prefixed(v.seq, b)
}

// Sum is the value's digest.
func (v *Value) Sum() uint64 {
	d := xxhash.New()
	d.Write([]byte{byte(v.t)})
	v.u64(d, v.n)
	v.u64(d, v.seq.Sum64())
	v.u64(d, v.sum)
	return d.Sum64()
}

// Group accumulates the digest of one stream consumer group.
type Group struct {
	v         Value
	consumers uint64
	c         *xxhash.Digest
	cn        uint64
}

// NewGroup starts a group's digest with its name and last delivered id;
// its pending entries follow in id order, then its consumers.
func NewGroup(name []byte, lastMS, lastSeq uint64) *Group {
	g := &Group{v: Value{seq: xxhash.New(), el: xxhash.New()}, c: xxhash.New()}
	g.v.prefixed(g.v.seq, name)
	g.v.u64(g.v.seq, lastMS)
	g.v.u64(g.v.seq, lastSeq)
	return g
}

// Pending adds an entry of the group's pending list.
func (g *Group) Pending(ms, seq, deliveries uint64) {
	g.v.n++
	g.v.u64(g.v.seq, ms)
	g.v.u64(g.v.seq, seq)
	g.v.u64(g.v.seq, deliveries)
}

// Consumer starts a consumer; its pending ids follow with ConsumerPending.
func (g *Group) Consumer(name []byte) {
	g.endConsumer()
	g.cn = 1
	g.c.Reset()
	g.v.prefixed(g.c, name)
}

// ConsumerPending adds an id of the current consumer's pending list.
func (g *Group) ConsumerPending(ms, seq uint64) {
	g.cn++
	g.v.u64(g.c, ms)
	g.v.u64(g.c, seq)
}

func (g *Group) endConsumer() {
	if g.cn > 0 {
		g.v.u64(g.c, g.cn)
		g.consumers += g.c.Sum64()
		g.cn = 0
	}
}

// Sum is the group's digest.
func (g *Group) Sum() uint64 {
	g.endConsumer()
	g.v.u64(g.v.seq, g.v.n)
	g.v.u64(g.v.seq, g.consumers)
	return g.v.seq.Sum64()
}

// Digest accumulates a dataset's digest: the sum of its keys' digests.
type Digest struct {
	sum uint64
	d   *xxhash.Digest
	b   [8]byte
}

// NewDigest returns an empty dataset digest.
func NewDigest() *Digest { return &Digest{d: xxhash.New()} }

// Key adds a key: its database, name, expiry (unix ms, -1 for none) and the
// digest of its value.
func (g *Digest) Key(db int, name []byte, expireMS int64, value uint64) {
	g.d.Reset()
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(g.b[:], x)
		g.d.Write(g.b[:])
	}
	put(uint64(db))
	put(uint64(len(name)))
	g.d.Write(name)
	put(uint64(expireMS))
	put(value)
	g.sum += g.d.Sum64()
}

// Function adds a function library's code.
func (g *Digest) Function(code []byte) {
	g.d.Reset()
	g.d.Write([]byte("function"))
	g.d.Write(code)
	g.sum += g.d.Sum64()
}

// String renders the digest as DigestPrefix and 16 hex digits.
func (g *Digest) String() string { return fmt.Sprintf("%s%016x", DigestPrefix, g.sum) }
