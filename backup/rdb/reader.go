package rdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrCorrupt is wrapped by every error about the content of the stream: a
// truncated RDB, an encoding that makes no sense, trailing bytes. Errors of
// the underlying reader are returned as they are.
var ErrCorrupt = errors.New("corrupt rdb")

// corrupt builds an ErrCorrupt error; at is the byte offset it was found at.
func corrupt(at int64, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrCorrupt, at, fmt.Sprintf(format, args...))
}

// maxChunk bounds one allocation while a long string is read: a corrupt
// length cannot make the reader allocate more than the bytes that really
// arrive (plus this much).
const maxChunk = 1 << 20

// reader decodes the RDB primitives (lengths, strings, fixed-size numbers)
// from a buffered stream. Slices it returns are valid until its next call.
// While rec is set, every byte it consumes is also appended to raw: that is
// how a key's serialized value is captured for RESTORE.
type reader struct {
	br  *bufio.Reader
	n   int64 // bytes consumed
	rec bool
	raw []byte

	big []byte   // a long string that did not fit in br's buffer
	lzf []byte   // a decompressed string
	num [24]byte // an integer-encoded string as decimal text
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 1<<20)}
}

// eof turns a short read into ErrCorrupt: the stream ended inside a value.
func (r *reader) eof(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt(r.n, "unexpected end of data (truncated)")
	}
	return err
}

func (r *reader) byte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, r.eof(err)
	}
	r.n++
	if r.rec {
		r.raw = append(r.raw, c)
	}
	return c, nil
}

// bytes reads exactly n bytes.
func (r *reader) bytes(n uint64) ([]byte, error) {
	if n <= uint64(r.br.Size()) {
		b, err := r.br.Peek(int(n))
		if err != nil {
			return nil, r.eof(err)
		}
		r.br.Discard(int(n))
		r.consumed(b)
		return b, nil
	}
	r.big = r.big[:0]
	for remaining := n; remaining > 0; {
		chunk := min(remaining, maxChunk)
		start := len(r.big)
		r.big = append(r.big, make([]byte, chunk)...)
		if _, err := io.ReadFull(r.br, r.big[start:]); err != nil {
			return nil, r.eof(err)
		}
		remaining -= chunk
	}
	r.consumed(r.big)
	return r.big, nil
}

func (r *reader) consumed(b []byte) {
	r.n += int64(len(b))
	if r.rec {
		r.raw = append(r.raw, b...)
	}
}

// release drops buffers that one huge value grew, so that they are not
// kept for the rest of the stream.
func (r *reader) release() {
	const keep = 64 << 20
	if cap(r.big) > keep {
		r.big = nil
	}
	if cap(r.lzf) > keep {
		r.lzf = nil
	}
	if cap(r.raw) > keep {
		r.raw = nil
	}
}

func (r *reader) uint32LE() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) uint64LE() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// Length encodings: the two high bits of the first byte.
const (
	len6    = 0
	len14   = 1
	len32   = 0x80
	len64   = 0x81
	encoded = 3 // a special string encoding; the low six bits say which
)

// String encodings under the "encoded" length form.
const (
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// length reads a length; special is set when it is a string encoding
// instead (then n names the encoding).
func (r *reader) length() (n uint64, special bool, err error) {
	c, err := r.byte()
	if err != nil {
		return 0, false, err
	}
	switch c >> 6 {
	case len6:
		return uint64(c & 0x3f), false, nil
	case len14:
		c2, err := r.byte()
		if err != nil {
			return 0, false, err
		}
		return uint64(c&0x3f)<<8 | uint64(c2), false, nil
	case encoded:
		return uint64(c & 0x3f), true, nil
	}
	switch c {
	case len32:
		b, err := r.bytes(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(b)), false, nil
	case len64:
		b, err := r.bytes(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(b), false, nil
	}
	return 0, false, corrupt(r.n-1, "bad length byte 0x%02x", c)
}

// count reads a length that must be a plain number.
func (r *reader) count() (uint64, error) {
	n, special, err := r.length()
	if err != nil {
		return 0, err
	}
	if special {
		return 0, corrupt(r.n-1, "a string encoding where a length was expected")
	}
	return n, nil
}

// str reads a string in any of its encodings and returns its bytes (integers
// as decimal text, LZF-compressed strings decompressed).
func (r *reader) str() ([]byte, error) {
	n, special, err := r.length()
	if err != nil {
		return nil, err
	}
	if !special {
		return r.bytes(n)
	}
	var v int64
	switch n {
	case encInt8:
		c, err := r.byte()
		if err != nil {
			return nil, err
		}
		v = int64(int8(c))
	case encInt16:
		b, err := r.bytes(2)
		if err != nil {
			return nil, err
		}
		v = int64(int16(binary.LittleEndian.Uint16(b)))
	case encInt32:
		b, err := r.bytes(4)
		if err != nil {
			return nil, err
		}
		v = int64(int32(binary.LittleEndian.Uint32(b)))
	case encLZF:
		return r.lzfString()
	default:
		return nil, corrupt(r.n-1, "unknown string encoding %d", n)
	}
	return strconv.AppendInt(r.num[:0], v, 10), nil
}

// maxLZF bounds a compressed string's stated size: the engine's own limit
// on a string is 512 MB (proto-max-bulk-len), far below this.
const maxLZF = 1 << 34

func (r *reader) lzfString() ([]byte, error) {
	clen, err := r.count()
	if err != nil {
		return nil, err
	}
	ulen, err := r.count()
	if err != nil {
		return nil, err
	}
	if ulen > maxLZF || clen > maxLZF || clen == 0 {
		return nil, corrupt(r.n, "implausible compressed string (%d bytes into %d)", clen, ulen)
	}
	at := r.n
	in, err := r.bytes(clen)
	if err != nil {
		return nil, err
	}
	// An LZF stream expands at most ~256 times: a stated length beyond that is
	// corrupt, and refusing it keeps a bad length from allocating gigabytes.
	if ulen > clen*264+64 {
		return nil, corrupt(at, "compressed string of %d bytes claims %d", clen, ulen)
	}
	if uint64(cap(r.lzf)) < ulen {
		r.lzf = make([]byte, ulen)
	}
	out := r.lzf[:ulen]
	if err := lzfDecompress(in, out); err != nil {
		return nil, corrupt(at, "%v", err)
	}
	return out, nil
}

// lzfDecompress expands in into out, which must be exactly the expanded
// size (LZF as the engine writes it: literal runs and back references).
func lzfDecompress(in, out []byte) error {
	ip, op := 0, 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // a literal run of ctrl+1 bytes
			n := ctrl + 1
			if ip+n > len(in) || op+n > len(out) {
				return errors.New("lzf literal run out of bounds")
			}
			copy(out[op:], in[ip:ip+n])
			ip, op = ip+n, op+n
			continue
		}
		n := ctrl >> 5
		ref := op - (ctrl&0x1f)<<8 - 1
		if n == 7 {
			if ip >= len(in) {
				return errors.New("lzf back reference cut short")
			}
			n += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return errors.New("lzf back reference cut short")
		}
		ref -= int(in[ip])
		ip++
		n += 2
		if ref < 0 || op+n > len(out) {
			return errors.New("lzf back reference out of bounds")
		}
		// The source may overlap the destination: the run then repeats the
		// last op-ref bytes, copied a period at a time.
		for n > 0 {
			k := min(n, op-ref)
			copy(out[op:op+k], out[ref:ref+k])
			op, ref, n = op+k, ref+k, n-k
		}
	}
	if op != len(out) {
		return fmt.Errorf("lzf expanded to %d bytes, want %d", op, len(out))
	}
	return nil
}
