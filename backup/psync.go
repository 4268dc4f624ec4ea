package backup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"larder/fault"
)

// Node is how to reach a node.
type Node struct {
	Name     string // the node's name, for messages and the manifest
	Addr     string
	Port     int
	User     string // "" authenticates with the password alone
	Password string
}

// Address renders host:port.
func (n Node) Address() string { return net.JoinHostPort(n.Addr, strconv.Itoa(n.Port)) }

// CaptureACL is all the user a capture authenticates as needs: a capture is
// a replica's handshake (REPLCONF), a full sync (PSYNC) and nothing else.
// It is the replication user's rule set, so that user can serve, though a
// user of its own keeps backups revocable apart from replication. SYNC,
// which `redis-cli --rdb` sends, is not needed.
const CaptureACL = "-@all +psync +replconf +ping"

// syncStream is an open full sync: the node streams an RDB to it.
type syncStream struct {
	conn net.Conn
	br   *bufio.Reader
	// rdb reads the payload: exactly the RDB, then io.EOF.
	rdb io.Reader
}

// openSync connects as a replica that only wants the RDB (REPLCONF
// rdb-only, so the node buffers no write stream for it) and can take it
// diskless (REPLCONF capa eof), asks for a full sync, and returns once the
// payload starts. idle bounds every wait for the node's next byte.
func openSync(ctx context.Context, n Node, dial, idle time.Duration) (s *syncStream, err error) {
	d := net.Dialer{Timeout: dial}
	conn, err := d.DialContext(ctx, "tcp", n.Address())
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("capture from %s (%s): cannot connect", n.Name, n.Address()))
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	s = &syncStream{conn: conn}
	s.br = bufio.NewReaderSize(idleReader{conn, idle}, 1<<20)
	fail := func(step, reply string) error {
		return handshakeError(n, step, reply)
	}
	if n.Password != "" {
		args := []string{"AUTH", n.Password}
		if n.User != "" {
			args = []string{"AUTH", n.User, n.Password}
		}
		if reply, err := s.call(args...); err != nil {
			return nil, err
		} else if reply != "+OK" {
			return nil, fail("AUTH", reply)
		}
	}
	if reply, err := s.call("REPLCONF", "capa", "eof"); err != nil {
		return nil, err
	} else if reply != "+OK" {
		return nil, fail("REPLCONF capa eof", reply)
	}
	// Engines before 7.0 do not know rdb-only; they still send the RDB first.
	if _, err := s.call("REPLCONF", "rdb-only", "1"); err != nil {
		return nil, err
	}
	reply, err := s.call("PSYNC", "?", "-1")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(reply, "+FULLRESYNC") {
		return nil, fail("PSYNC", reply)
	}
	if s.rdb, err = s.payload(n); err != nil {
		return nil, err
	}
	return s, nil
}

// call sends a command and reads a one-line reply.
func (s *syncStream) call(args ...string) (string, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := s.conn.Write(b.Bytes()); err != nil {
		return "", fault.Wrap(fault.Unavailable, err, "capture: the node closed the connection")
	}
	return s.line()
}

func (s *syncStream) line() (string, error) {
	l, err := s.br.ReadString('\n')
	if err != nil {
		return "", fault.Wrap(fault.Unavailable, err, "capture: the node stopped answering")
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// EOF marks of diskless transfers are this long.
const eofMarkLen = 40

// payload reads the payload's announcement, after the empty lines a node
// sends to keep the link alive while it prepares the RDB: "$<length>" for
// an RDB written to disk first, "$EOF:<40 bytes>" for one streamed as it is
// made, which ends with those 40 bytes.
func (s *syncStream) payload(n Node) (io.Reader, error) {
	for {
		l, err := s.line()
		if err != nil {
			return nil, err
		}
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "$EOF:") && len(l) == 5+eofMarkLen:
			return &markReader{r: s.br, mark: []byte(l[5:])}, nil
		case strings.HasPrefix(l, "$"):
			size, err := strconv.ParseInt(l[1:], 10, 64)
			if err != nil || size < 0 {
				return nil, fault.E(fault.Unavailable, "capture from %s: bad payload announcement %q", n.Name, truncate(l))
			}
			return &sizedReader{r: s.br, left: size}, nil
		default:
			return nil, handshakeError(n, "the full sync", l)
		}
	}
}

func (s *syncStream) Close() error { return s.conn.Close() }

// handshakeError explains a node's refusal. Replies never carry secrets.
func handshakeError(n Node, step, reply string) error {
	reply = truncate(reply)
	who := fmt.Sprintf("capture from %s (%s)", n.Name, n.Address())
	switch {
	case strings.HasPrefix(reply, "-WRONGPASS"), strings.HasPrefix(reply, "-NOAUTH"):
		return fault.E(fault.Unauthorized, "%s: the node refused the backup user's credentials", who)
	case strings.HasPrefix(reply, "-NOPERM"):
		return fault.E(fault.Unauthorized, "%s: the backup user may not run %s (it needs the ACL %q): %s", who, step, CaptureACL, reply)
	case strings.HasPrefix(reply, "-NOMASTERLINK"):
		return fault.E(fault.Unavailable, "%s: the standby has lost its primary and cannot serve a snapshot now", who)
	case strings.HasPrefix(reply, "-LOADING"):
		return fault.E(fault.Unavailable, "%s: the node is still loading its data", who)
	}
	return fault.E(fault.Unavailable, "%s: %s answered %s", who, step, reply)
}

// idleReader fails a read that waits longer than idle for its first byte.
type idleReader struct {
	conn net.Conn
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	r.conn.SetReadDeadline(time.Now().Add(r.idle))
	return r.conn.Read(p)
}

// sizedReader reads exactly left bytes, then io.EOF.
type sizedReader struct {
	r    io.Reader
	left int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if err == io.EOF && s.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// markReader reads a diskless payload: everything up to the mark that ends
// it. It holds back the last 40 bytes it read until it knows they are not
// the mark. As redis-cli does, it looks for the mark at the end of what
// has arrived: an rdb-only replica is sent nothing after it.
type markReader struct {
	r          io.Reader
	mark       []byte
	buf        []byte // [off:avail] is ready to deliver, [avail:end] held back
	off        int
	avail, end int
	done       bool
}

func (m *markReader) Read(p []byte) (int, error) {
	if m.buf == nil {
		m.buf = make([]byte, 256<<10)
	}
	for m.off == m.avail {
		if m.done {
			return 0, io.EOF
		}
		held := copy(m.buf, m.buf[m.avail:m.end])
		n, err := m.r.Read(m.buf[held:])
		m.off, m.end = 0, held+n
		if m.end >= eofMarkLen && bytes.Equal(m.buf[m.end-eofMarkLen:m.end], m.mark) {
			m.done, m.avail = true, m.end-eofMarkLen
			continue
		}
		m.avail = max(0, m.end-eofMarkLen)
		if err == io.EOF {
			return 0, io.ErrUnexpectedEOF // the node hung up before the mark
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, m.buf[m.off:m.avail])
	m.off += n
	return n, nil
}
