package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// elem is one element of a listpack, ziplist or intset: a string or an
// integer the engine stored in binary.
type elem struct {
	s     []byte
	i     int64
	isInt bool
}

// text renders the element as the engine shows it to clients, using buf for
// integers; the result is valid until buf is reused.
func (e elem) text(buf *[24]byte) []byte {
	if e.isInt {
		return strconv.AppendInt(buf[:0], e.i, 10)
	}
	return e.s
}

// errBlob is wrapped (with the blob's kind and the reason) into ErrCorrupt by
// the parser, which knows the offset.
var errBlob = errors.New("bad encoded blob")

func blobErr(kind, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", errBlob, kind, fmt.Sprintf(format, args...))
}

// listpack walks the elements of a listpack blob: a 6-byte header (total
// bytes, element count), entries each followed by its back-length, 0xFF.
func listpack(b []byte, each func(elem) error) error {
	if len(b) < 7 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xff {
		return blobErr("listpack", "bad header or terminator (%d bytes)", len(b))
	}
	p := 6
	for {
		if p >= len(b) {
			return blobErr("listpack", "no terminator")
		}
		c := b[p]
		if c == 0xff {
			if p != len(b)-1 {
				return blobErr("listpack", "terminator before the end")
			}
			return nil
		}
		e, size, err := lpEntry(b[p:])
		if err != nil {
			return err
		}
		back := lpBacklenSize(size)
		if p+size+back > len(b)-1 {
			return blobErr("listpack", "entry runs past the end")
		}
		if err := each(e); err != nil {
			return err
		}
		p += size + back
	}
}

// lpEntry decodes the entry at the start of b; size excludes the back-length.
func lpEntry(b []byte) (e elem, size int, err error) {
	need := func(n int) error {
		if len(b) < n {
			return blobErr("listpack", "entry cut short")
		}
		return nil
	}
	c := b[0]
	switch {
	case c&0x80 == 0: // 7-bit unsigned integer
		return elem{i: int64(c & 0x7f), isInt: true}, 1, nil
	case c&0xc0 == 0x80: // string up to 63 bytes
		n := int(c & 0x3f)
		if err := need(1 + n); err != nil {
			return e, 0, err
		}
		return elem{s: b[1 : 1+n]}, 1 + n, nil
	case c&0xe0 == 0xc0: // 13-bit signed integer
		if err := need(2); err != nil {
			return e, 0, err
		}
		v := int64(c&0x1f)<<8 | int64(b[1])
		if v >= 1<<12 {
			v -= 1 << 13
		}
		return elem{i: v, isInt: true}, 2, nil
	case c&0xf0 == 0xe0: // string up to 4095 bytes
		if err := need(2); err != nil {
			return e, 0, err
		}
		n := int(c&0x0f)<<8 | int(b[1])
		if err := need(2 + n); err != nil {
			return e, 0, err
		}
		return elem{s: b[2 : 2+n]}, 2 + n, nil
	}
	switch c {
	case 0xf0: // string with a 32-bit length
		if err := need(5); err != nil {
			return e, 0, err
		}
		n := uint64(binary.LittleEndian.Uint32(b[1:]))
		if uint64(len(b)) < 5+n {
			return e, 0, blobErr("listpack", "entry cut short")
		}
		return elem{s: b[5 : 5+n]}, 5 + int(n), nil
	case 0xf1:
		if err := need(3); err != nil {
			return e, 0, err
		}
		return elem{i: int64(int16(binary.LittleEndian.Uint16(b[1:]))), isInt: true}, 3, nil
	case 0xf2:
		if err := need(4); err != nil {
			return e, 0, err
		}
		v := int64(b[1]) | int64(b[2])<<8 | int64(b[3])<<16
		if v >= 1<<23 {
			v -= 1 << 24
		}
		return elem{i: v, isInt: true}, 4, nil
	case 0xf3:
		if err := need(5); err != nil {
			return e, 0, err
		}
		return elem{i: int64(int32(binary.LittleEndian.Uint32(b[1:]))), isInt: true}, 5, nil
	case 0xf4:
		if err := need(9); err != nil {
			return e, 0, err
		}
		return elem{i: int64(binary.LittleEndian.Uint64(b[1:])), isInt: true}, 9, nil
	}
	return e, 0, blobErr("listpack", "unknown entry encoding 0x%02x", c)
}

// lpBacklenSize is how many bytes the back-length of an entry of size l takes.
func lpBacklenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// ziplist walks the elements of a ziplist blob, the encoding of engines
// before 7.0: a 10-byte header, entries with a previous-length and an
// encoding, 0xFF.
func ziplist(b []byte, each func(elem) error) error {
	if len(b) < 11 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xff {
		return blobErr("ziplist", "bad header or terminator (%d bytes)", len(b))
	}
	p := 10
	for {
		if p >= len(b) {
			return blobErr("ziplist", "no terminator")
		}
		if b[p] == 0xff {
			if p != len(b)-1 {
				return blobErr("ziplist", "terminator before the end")
			}
			return nil
		}
		if b[p] == 0xfe { // previous length in 4 bytes
			p += 5
		} else {
			p++
		}
		if p >= len(b)-1 {
			return blobErr("ziplist", "entry cut short")
		}
		e, size, err := zlEntry(b[p : len(b)-1])
		if err != nil {
			return err
		}
		if err := each(e); err != nil {
			return err
		}
		p += size
	}
}

// zlEntry decodes a ziplist entry's encoding and payload at the start of b.
func zlEntry(b []byte) (e elem, size int, err error) {
	need := func(n int) error {
		if len(b) < n {
			return blobErr("ziplist", "entry cut short")
		}
		return nil
	}
	c := b[0]
	str := func(hdr, n int) (elem, int, error) {
		if err := need(hdr + n); err != nil {
			return elem{}, 0, err
		}
		return elem{s: b[hdr : hdr+n]}, hdr + n, nil
	}
	switch c >> 6 {
	case 0:
		return str(1, int(c&0x3f))
	case 1:
		if err := need(2); err != nil {
			return e, 0, err
		}
		return str(2, int(c&0x3f)<<8|int(b[1]))
	case 2:
		if c != 0x80 {
			return e, 0, blobErr("ziplist", "unknown string encoding 0x%02x", c)
		}
		if err := need(5); err != nil {
			return e, 0, err
		}
		n := uint64(binary.BigEndian.Uint32(b[1:]))
		if uint64(len(b)) < 5+n {
			return e, 0, blobErr("ziplist", "entry cut short")
		}
		return str(5, int(n))
	}
	integer := func(n int, v func([]byte) int64) (elem, int, error) {
		if err := need(1 + n); err != nil {
			return elem{}, 0, err
		}
		return elem{i: v(b[1:]), isInt: true}, 1 + n, nil
	}
	switch {
	case c == 0xc0:
		return integer(2, func(p []byte) int64 { return int64(int16(binary.LittleEndian.Uint16(p))) })
	case c == 0xd0:
		return integer(4, func(p []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(p))) })
	case c == 0xe0:
		return integer(8, func(p []byte) int64 { return int64(binary.LittleEndian.Uint64(p)) })
	case c == 0xf0:
		return integer(3, func(p []byte) int64 {
			return int64(int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24) >> 8)
		})
	case c == 0xfe:
		return integer(1, func(p []byte) int64 { return int64(int8(p[0])) })
	case c >= 0xf1 && c <= 0xfd: // a small integer in the encoding byte itself
		return elem{i: int64(c&0x0f) - 1, isInt: true}, 1, nil
	}
	return e, 0, blobErr("ziplist", "unknown entry encoding 0x%02x", c)
}

// intset walks the members of an intset blob: encoding (2, 4 or 8 bytes per
// member), count, then the members in order.
func intset(b []byte, each func(elem) error) error {
	if len(b) < 8 {
		return blobErr("intset", "header cut short")
	}
	width := uint64(binary.LittleEndian.Uint32(b))
	n := uint64(binary.LittleEndian.Uint32(b[4:]))
	if width != 2 && width != 4 && width != 8 {
		return blobErr("intset", "bad width %d", width)
	}
	if uint64(len(b)-8) != width*n {
		return blobErr("intset", "%d members of %d bytes do not fill %d bytes", n, width, len(b)-8)
	}
	for p := 8; p < len(b); p += int(width) {
		var v int64
		switch width {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(b[p:])))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(b[p:])))
		default:
			v = int64(binary.LittleEndian.Uint64(b[p:]))
		}
		if err := each(elem{i: v, isInt: true}); err != nil {
			return err
		}
	}
	return nil
}
