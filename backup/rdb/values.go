package rdb

import (
	"encoding/binary"
	"math"
	"strconv"
)

// Quicklist node containers (RDB type 18).
const (
	containerPlain  = 1 // one element, stored as a string
	containerPacked = 2 // a listpack of elements
)

// decodeValue reads a value of RDB type t into p.value.
func (p *parser) decodeValue(t byte) error {
	v := p.value
	switch t {
	case typeString:
		b, err := p.r.str()
		if err != nil {
			return err
		}
		v.String(b)
		return nil
	case typeList:
		return p.each(func(b []byte) error { v.ListElem(b); return nil })
	case typeSet:
		return p.each(func(b []byte) error { v.Member(b); return nil })
	case typeHash:
		return p.pairs(func(f, val []byte) error { v.Field(f, val); return nil })
	case typeZSet, typeZSet2:
		return p.zset(t)
	case typeListZiplist:
		return p.blob(ziplist, p.listElem)
	case typeSetIntset:
		return p.blob(intset, p.member)
	case typeSetListpack:
		return p.blob(listpack, p.member)
	case typeHashZiplist, typeHashListpack:
		return p.blobPairs(t, func(f, val elem) error {
			v.Field(f.text(&p.num[0]), val.text(&p.num[1]))
			return nil
		})
	case typeZSetZiplist, typeZSetListpack:
		return p.blobPairs(t, func(m, s elem) error {
			score, err := elemScore(s, &p.num[1])
			if err != nil {
				return err
			}
			v.Scored(m.text(&p.num[0]), score)
			return nil
		})
	case typeListQuicklist:
		n, err := p.r.count()
		if err != nil {
			return err
		}
		for range n {
			if err := p.blob(ziplist, p.listElem); err != nil {
				return err
			}
		}
		return nil
	case typeListQuicklist2:
		return p.quicklist2()
	case typeStreamListpacks, typeStreamListpacks2, typeStreamListpacks3:
		return p.stream(t)
	case typeModule2:
		return p.module(v)
	}
	return unsupportedType(p.r.n, t)
}

func (p *parser) listElem(e elem) error { p.value.ListElem(e.text(&p.num[0])); return nil }
func (p *parser) member(e elem) error   { p.value.Member(e.text(&p.num[0])); return nil }

// each reads a count, then that many strings.
func (p *parser) each(f func([]byte) error) error {
	n, err := p.r.count()
	if err != nil {
		return err
	}
	for range n {
		b, err := p.r.str()
		if err != nil {
			return err
		}
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

// pairs reads a count, then that many pairs of strings.
func (p *parser) pairs(f func(a, b []byte) error) error {
	n, err := p.r.count()
	if err != nil {
		return err
	}
	for range n {
		a, err := p.r.str()
		if err != nil {
			return err
		}
		p.field = append(p.field[:0], a...) // reading b may reuse a's bytes
		b, err := p.r.str()
		if err != nil {
			return err
		}
		if err := f(p.field, b); err != nil {
			return err
		}
	}
	return nil
}

// blob reads a string holding an encoded collection and walks its elements.
func (p *parser) blob(walk func([]byte, func(elem) error) error, f func(elem) error) error {
	b, err := p.r.str()
	if err != nil {
		return err
	}
	return walk(b, f)
}

// blobPairs walks a ziplist or listpack of alternating elements (hash
// fields and values, zset members and scores).
func (p *parser) blobPairs(t byte, f func(a, b elem) error) error {
	walk := listpack
	if t == typeHashZiplist || t == typeZSetZiplist {
		walk = ziplist
	}
	var first elem
	odd := false
	err := p.blob(walk, func(e elem) error {
		if odd = !odd; odd {
			first = e
			return nil
		}
		return f(first, e)
	})
	if err == nil && odd {
		return blobErr("pairs", "an odd number of elements")
	}
	return err
}

func (p *parser) zset(t byte) error {
	n, err := p.r.count()
	if err != nil {
		return err
	}
	for range n {
		m, err := p.r.str()
		if err != nil {
			return err
		}
		p.field = append(p.field[:0], m...)
		var score float64
		if t == typeZSet2 {
			bits, err := p.r.uint64LE()
			if err != nil {
				return err
			}
			score = math.Float64frombits(bits)
		} else if score, err = p.textScore(); err != nil {
			return err
		}
		p.value.Scored(p.field, score)
	}
	return nil
}

// textScore reads a score of the old zset type: a length byte (253 NaN,
// 254 +inf, 255 -inf) and that many bytes of decimal text.
func (p *parser) textScore() (float64, error) {
	at := p.r.n
	n, err := p.r.byte()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b, err := p.r.bytes(uint64(n))
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, corrupt(at, "bad score %q", b)
	}
	return f, nil
}

func elemScore(e elem, buf *[24]byte) (float64, error) {
	if e.isInt {
		return float64(e.i), nil
	}
	f, err := strconv.ParseFloat(string(e.text(buf)), 64)
	if err != nil {
		return 0, blobErr("zset", "bad score %q", truncate(e.s))
	}
	return f, nil
}

func (p *parser) quicklist2() error {
	n, err := p.r.count()
	if err != nil {
		return err
	}
	for range n {
		at := p.r.n
		c, err := p.r.count()
		if err != nil {
			return err
		}
		switch c {
		case containerPlain:
			b, err := p.r.str()
			if err != nil {
				return err
			}
			p.value.ListElem(b)
		case containerPacked:
			if err := p.blob(listpack, p.listElem); err != nil {
				return err
			}
		default:
			return corrupt(at, "unknown quicklist container %d", c)
		}
	}
	return nil
}

// Module value opcodes.
const (
	moduleEOF    = 0
	moduleSInt   = 1
	moduleUInt   = 2
	moduleFloat  = 3
	moduleDouble = 4
	moduleString = 5
)

// module reads a module value: the module's id, then typed items up to an
// EOF item. The digest takes every item; nothing can be checked without the
// module itself.
func (p *parser) module(v *Value) error {
	id, err := p.r.count()
	if err != nil {
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], id)
	v.ModuleItem(0, b[:])
	return p.moduleItems(v)
}

func (p *parser) moduleItems(v *Value) error {
	var b [8]byte
	for {
		at := p.r.n
		op, err := p.r.count()
		if err != nil {
			return err
		}
		var item []byte
		switch op {
		case moduleEOF:
			return nil
		case moduleSInt, moduleUInt:
			n, err := p.r.count()
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint64(b[:], n)
			item = b[:]
		case moduleFloat:
			item, err = p.r.bytes(4)
		case moduleDouble:
			item, err = p.r.bytes(8)
		case moduleString:
			item, err = p.r.str()
		default:
			return corrupt(at, "unknown module item %d", op)
		}
		if err != nil {
			return err
		}
		if v != nil {
			v.ModuleItem(op, item)
		}
	}
}

// moduleAux skips a module's aux data: its id, when it was written (an
// unsigned item), then items up to EOF.
func (p *parser) moduleAux(at int64) error {
	if _, err := p.r.count(); err != nil {
		return err
	}
	op, err := p.r.count()
	if err != nil {
		return err
	}
	if op != moduleUInt {
		return corrupt(at, "module aux data without its 'when'")
	}
	if _, err := p.r.count(); err != nil {
		return err
	}
	return p.moduleItems(nil)
}
