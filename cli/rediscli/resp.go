package rediscli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// redis:cli speaks RESP itself over one connection rather than through a
// go-redis client: go-redis returns a status reply (+OK) and a bulk string
// ("OK") as the same Go string, but redis-cli prints them differently; its
// pool and retries would run a command twice or split MULTI and SELECT over
// connections; and SUBSCRIBE and MONITOR keep a connection replying forever.

// Reply kinds, named by their RESP type byte. Nil covers RESP2's $-1 and *-1.
const (
	replyStatus  = '+'
	replyError   = '-'
	replyInt     = ':'
	replyBulk    = '$'
	replyArray   = '*'
	replyNil     = '_'
	replyDouble  = ','
	replyBool    = '#'
	replyBigNum  = '('
	replyVerbStr = '='
	replyMap     = '%'
	replySet     = '~'
	replyPush    = '>'
)

// reply is one decoded RESP reply.
type reply struct {
	kind  byte
	str   string  // status, error, bulk, double, big number, verbatim text
	num   int64   // integer; 1 or 0 for a boolean
	elems []reply // array, set, push; a map as key, value, key, value…
}

func (r reply) isError() bool { return r.kind == replyError }

// Bounds on what a reply may claim, so that a broken or hostile peer cannot
// make the reader allocate without sending the bytes.
const (
	maxBulkLen   = 512 << 20 // the engine's proto-max-bulk-len
	maxElems     = 1 << 30
	maxNesting   = 512
	preallocLen  = 64 << 10
	preallocElem = 1024
)

var errProtocol = errors.New("protocol error")

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// readReply reads one reply; RESP3 attributes are read and dropped.
func readReply(rd *bufio.Reader) (reply, error) { return readNested(rd, 0) }

func readNested(rd *bufio.Reader, depth int) (reply, error) {
	if depth > maxNesting {
		return reply{}, protocolErr("replies nested more than %d deep", maxNesting)
	}
	line, err := readLine(rd)
	if err != nil {
		return reply{}, err
	}
	if line == "" {
		return reply{}, protocolErr("empty line")
	}
	kind, rest := line[0], line[1:]
	switch kind {
	case replyStatus, replyError, replyDouble, replyBigNum:
		return reply{kind: kind, str: rest}, nil
	case replyNil:
		return reply{kind: replyNil}, nil
	case replyInt:
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return reply{}, protocolErr("bad integer %q", rest)
		}
		return reply{kind: replyInt, num: n}, nil
	case replyBool:
		switch rest {
		case "t":
			return reply{kind: replyBool, num: 1}, nil
		case "f":
			return reply{kind: replyBool}, nil
		}
		return reply{}, protocolErr("bad boolean %q", rest)
	case replyBulk, replyVerbStr, '!':
		n, err := readLen(rest, maxBulkLen)
		if err != nil || n < 0 {
			return reply{kind: replyNil}, err
		}
		s, err := readBulk(rd, n)
		switch {
		case err != nil:
			return reply{}, err
		case kind == '!': // blob error
			return reply{kind: replyError, str: s}, nil
		case kind == replyVerbStr && len(s) >= 4 && s[3] == ':': // "txt:" gives the format
			return reply{kind: replyVerbStr, str: s[4:]}, nil
		}
		return reply{kind: kind, str: s}, nil
	case replyArray, replySet, replyPush, replyMap, '|':
		n, err := readLen(rest, maxElems)
		if err != nil || n < 0 {
			return reply{kind: replyNil}, err
		}
		if kind == replyMap || kind == '|' {
			n *= 2
		}
		elems := make([]reply, 0, min(n, preallocElem))
		for range n {
			e, err := readNested(rd, depth+1)
			if err != nil {
				return reply{}, unexpectedEOF(err)
			}
			elems = append(elems, e)
		}
		if kind == '|' { // attributes describe the reply that follows
			return readNested(rd, depth)
		}
		return reply{kind: kind, elems: elems}, nil
	}
	return reply{}, protocolErr("unknown reply type %q", kind)
}

// readLine reads a line ending in CRLF and returns it without the CRLF.
func readLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		if err == io.EOF && line != "" {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", protocolErr("line without CRLF")
	}
	return line[:len(line)-2], nil
}

// readLen reads the length of a bulk string or aggregate; -1 means nil.
func readLen(text string, limit int) (int, error) {
	n, err := strconv.Atoi(text)
	switch {
	case err != nil || n < -1:
		return 0, protocolErr("bad length %q", text)
	case n > limit:
		return 0, protocolErr("length %d is over the limit of %d", n, limit)
	}
	return n, nil
}

// readBulk reads n bytes and the CRLF after them. Large strings grow as
// their bytes arrive rather than being allocated from the claimed length.
func readBulk(rd *bufio.Reader, n int) (string, error) {
	var b bytes.Buffer
	b.Grow(min(n, preallocLen))
	if _, err := io.CopyN(&b, rd, int64(n)); err != nil {
		return "", unexpectedEOF(err)
	}
	var crlf [2]byte
	if _, err := io.ReadFull(rd, crlf[:]); err != nil {
		return "", unexpectedEOF(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return "", protocolErr("bulk string without CRLF")
	}
	return b.String(), nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeCommand writes args as a RESP array of bulk strings.
func writeCommand(w *bufio.Writer, args []string) error {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
	return w.Flush()
}
