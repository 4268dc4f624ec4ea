// Package rdb reads the engine's RDB snapshot format as a stream. It walks
// every opcode and decodes every value encoding the engines write (strings
// with integer and LZF encodings, listpacks, ziplists, intsets, quicklists,
// stream listpacks with their consumer groups, module values), counts the
// keys of each database and computes a digest of the logical dataset that
// does not depend on encodings or on the order of keys (see Value).
//
// It is how a backup's key count and digest are computed while the backup
// is captured, independently of the engine that later verifies it, and how
// each key's serialized value is handed out for RESTORE.
package rdb

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Opcodes.
const (
	opSlotInfo      = 244 // cluster slot sizes (Valkey 8+), a hint
	opFunction2     = 245 // a function library
	opFunctionPreGA = 246 // function libraries of 7.0 release candidates
	opModuleAux     = 247
	opIdle          = 248
	opFreq          = 249
	opAux           = 250
	opResizeDB      = 251
	opExpireTimeMS  = 252
	opExpireTime    = 253
	opSelectDB      = 254
	opEOF           = 255
)

// Object types as the RDB names them.
const (
	typeString            = 0
	typeList              = 1
	typeSet               = 2
	typeZSet              = 3
	typeHash              = 4
	typeZSet2             = 5
	typeModulePreGA       = 6
	typeModule2           = 7
	typeHashZipmap        = 9
	typeListZiplist       = 10
	typeSetIntset         = 11
	typeZSetZiplist       = 12
	typeHashZiplist       = 13
	typeListQuicklist     = 14
	typeStreamListpacks   = 15
	typeHashListpack      = 16
	typeZSetListpack      = 17
	typeListQuicklist2    = 18
	typeStreamListpacks2  = 19
	typeSetListpack       = 20
	typeStreamListpacks3  = 21
	maxTypeWeCannotDecode = 25 // hashes with field expiries (22-25) and beyond
)

// DB is what one database holds.
type DB struct {
	DB      int   `json:"db"`
	Keys    int64 `json:"keys"`
	Expires int64 `json:"expires"` // keys with an expiry
}

// Summary is what Scan found.
type Summary struct {
	Version   int               // the RDB format version
	Aux       map[string]string // the engine's aux fields (redis-ver, ctime, …)
	DBs       []DB              // databases with keys, by number
	Keys      int64
	Functions int
	Digest    string // see Value; DigestPrefix + 16 hex digits
	Bytes     int64  // the RDB's size
}

// Key is one key, as handed to Options.OnKey. Its slices are only valid
// during the call.
type Key struct {
	DB       int
	Name     []byte
	Type     Type
	ExpireMS int64 // unix milliseconds; -1 when the key has none
	// Payload is the key's serialized value (its RDB type byte, then the
	// value), which is the body of a DUMP payload (see DumpPayload).
	Payload []byte
}

// Options make Scan hand out keys and function libraries as it meets them.
type Options struct {
	OnKey      func(*Key) error
	OnFunction func(payload []byte) error // the opcode and the library, as FUNCTION DUMP writes it
}

// maxAux bounds the aux fields kept: the engines write about ten.
const maxAux = 64

// Scan reads one whole RDB from r, and nothing after it.
func Scan(r io.Reader, opts *Options) (*Summary, error) {
	if opts == nil {
		opts = &Options{}
	}
	p := &parser{r: newReader(r), opts: opts, digest: NewDigest(), dbs: map[int]*DB{},
		value: NewValue(TypeString), sum: &Summary{Aux: map[string]string{}}}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.sum, nil
}

type parser struct {
	r      *reader
	opts   *Options
	sum    *Summary
	digest *Digest
	value  *Value
	dbs    map[int]*DB
	key    []byte // the current key's name
	field  []byte // a hash field or zset member waiting for its value
	num    [2][24]byte
}

func (p *parser) run() error {
	if err := p.header(); err != nil {
		return err
	}
	db, expire := 0, int64(-1)
	for {
		at := p.r.n
		op, err := p.r.byte()
		if err != nil {
			return err
		}
		switch op {
		case opEOF:
			return p.end()
		case opSelectDB:
			n, err := p.r.count()
			if err != nil {
				return err
			}
			if n > 1<<20 {
				return corrupt(at, "database number %d", n)
			}
			db = int(n)
		case opResizeDB:
			if _, err := p.r.count(); err != nil {
				return err
			}
			if _, err := p.r.count(); err != nil {
				return err
			}
		case opAux:
			if err := p.aux(); err != nil {
				return err
			}
		case opExpireTime:
			s, err := p.r.uint32LE()
			if err != nil {
				return err
			}
			expire = int64(s) * 1000
		case opExpireTimeMS:
			ms, err := p.r.uint64LE()
			if err != nil {
				return err
			}
			expire = int64(ms)
		case opIdle:
			if _, err := p.r.count(); err != nil {
				return err
			}
		case opFreq:
			if _, err := p.r.byte(); err != nil {
				return err
			}
		case opModuleAux:
			if err := p.moduleAux(at); err != nil {
				return err
			}
		case opFunction2:
			if err := p.function(); err != nil {
				return err
			}
		case opSlotInfo:
			for range 3 {
				if _, err := p.r.count(); err != nil {
					return err
				}
			}
		case opFunctionPreGA:
			return corrupt(at, "function libraries in the format of 7.0 release candidates are not supported")
		default:
			if err := p.keyValue(at, op, db, expire); err != nil {
				return err
			}
			expire = -1
		}
	}
}

func (p *parser) header() error {
	b, err := p.r.bytes(9)
	if err != nil {
		return fmt.Errorf("%w: not an RDB: %w", ErrCorrupt, err)
	}
	var digits []byte
	switch {
	case string(b[:5]) == "REDIS":
		digits = b[5:]
	case string(b[:6]) == "VALKEY":
		digits = b[6:]
	default:
		return fmt.Errorf("%w: not an RDB (it starts with %q)", ErrCorrupt, b[:5])
	}
	v, err := strconv.Atoi(string(digits))
	if err != nil || v < 1 {
		return fmt.Errorf("%w: bad RDB version %q", ErrCorrupt, digits)
	}
	p.sum.Version = v
	return nil
}

func (p *parser) aux() error {
	k, err := p.r.str()
	if err != nil {
		return err
	}
	key := string(k)
	v, err := p.r.str()
	if err != nil {
		return err
	}
	if len(p.sum.Aux) < maxAux && len(key) <= 64 && len(v) <= 256 {
		p.sum.Aux[key] = string(v)
	}
	return nil
}

func (p *parser) function() error {
	p.r.rec, p.r.raw = true, append(p.r.raw[:0], opFunction2)
	code, err := p.r.str()
	p.r.rec = false
	if err != nil {
		return err
	}
	p.sum.Functions++
	p.digest.Function(code)
	if p.opts.OnFunction != nil {
		return p.opts.OnFunction(p.r.raw)
	}
	return nil
}

// end reads the checksum after the EOF opcode and makes sure nothing follows.
func (p *parser) end() error {
	if p.sum.Version >= 5 {
		if _, err := p.r.bytes(8); err != nil {
			return err
		}
	}
	if _, err := p.r.br.ReadByte(); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return corrupt(p.r.n, "data after the end of the RDB")
	}
	p.sum.Bytes = p.r.n
	for _, d := range p.dbs {
		p.sum.DBs = append(p.sum.DBs, *d)
	}
	sort.Slice(p.sum.DBs, func(i, j int) bool { return p.sum.DBs[i].DB < p.sum.DBs[j].DB })
	p.sum.Digest = p.digest.String()
	return nil
}

func (p *parser) keyValue(at int64, t byte, db int, expire int64) error {
	lt, ok := logicalType(t)
	if !ok {
		return unsupportedType(at, t)
	}
	name, err := p.r.str()
	if err != nil {
		return err
	}
	p.key = append(p.key[:0], name...)
	record := p.opts.OnKey != nil
	if record {
		p.r.rec, p.r.raw = true, append(p.r.raw[:0], t)
	}
	p.value.Reset(lt)
	err = p.decodeValue(t)
	p.r.rec = false
	if err != nil {
		if errors.Is(err, errBlob) {
			return corrupt(at, "key %q: %v", truncate(p.key), err)
		}
		return err
	}
	p.digest.Key(db, p.key, expire, p.value.Sum())
	d := p.dbs[db]
	if d == nil {
		d = &DB{DB: db}
		p.dbs[db] = d
	}
	d.Keys++
	if expire != -1 {
		d.Expires++
	}
	p.sum.Keys++
	if record {
		err = p.opts.OnKey(&Key{DB: db, Name: p.key, Type: lt, ExpireMS: expire, Payload: p.r.raw})
	}
	p.r.release()
	return err
}

func logicalType(t byte) (Type, bool) {
	switch t {
	case typeString:
		return TypeString, true
	case typeList, typeListZiplist, typeListQuicklist, typeListQuicklist2:
		return TypeList, true
	case typeSet, typeSetIntset, typeSetListpack:
		return TypeSet, true
	case typeZSet, typeZSet2, typeZSetZiplist, typeZSetListpack:
		return TypeZSet, true
	case typeHash, typeHashZiplist, typeHashListpack:
		return TypeHash, true
	case typeStreamListpacks, typeStreamListpacks2, typeStreamListpacks3:
		return TypeStream, true
	case typeModule2:
		return TypeModule, true
	}
	return 0, false
}

func unsupportedType(at int64, t byte) error {
	switch {
	case t == typeHashZipmap:
		return corrupt(at, "hashes in the zipmap encoding of engines before 2.6 are not supported")
	case t == typeModulePreGA:
		return corrupt(at, "module values of engines before 4.0 are not supported")
	case t > typeStreamListpacks3 && t <= maxTypeWeCannotDecode:
		return corrupt(at, "value type %d (hashes with field expiries) is not supported", t)
	}
	return corrupt(at, "unknown opcode or value type %d", t)
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
