package backup

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"larder/backup/rdb"
	"larder/fault"
)

// keyStream sends RESTOREs down one connection without waiting for their
// replies, which a goroutine of its own reads and checks in order: the
// engine never waits on a round trip, and nothing is held per key but its
// name until its reply comes.
type keyStream struct {
	conn    net.Conn
	bw      *bufio.Writer
	into    Node
	replace bool
	version int
	db      int
	payload []byte
	sent    chan string // what each reply answers: a key's name, or "SELECT"
	done    chan struct{}
	stop    func() bool

	mu  sync.Mutex
	err error // the first failure
}

// replyTimeout bounds the wait for one reply: a RESTORE of a huge value
// takes a while, a node that stopped answering takes forever.
const replyTimeout = 2 * time.Minute

func newKeyStream(ctx context.Context, into Node, replace bool, version int) (*keyStream, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", into.Address())
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: cannot connect", into.Name))
	}
	s := &keyStream{conn: conn, bw: bufio.NewWriterSize(conn, 1<<20), into: into, replace: replace, version: version,
		db: -1, sent: make(chan string, 1<<16), done: make(chan struct{})}
	s.stop = context.AfterFunc(ctx, func() { s.fail(fmt.Errorf("restore into %s: %w", into.Name, ctx.Err())) })
	if into.Password != "" {
		args := []string{"AUTH", into.Password}
		if into.User != "" {
			args = []string{"AUTH", into.User, into.Password}
		}
		s.command(args...)
		s.sent <- "AUTH"
	}
	go s.readReplies()
	return s, nil
}

// fail records the first failure and closes the connection, which ends
// both the writer and the reader.
func (s *keyStream) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.conn.Close()
}

func (s *keyStream) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *keyStream) readReplies() {
	defer close(s.done)
	br := bufio.NewReaderSize(s.conn, 64<<10)
	for what := range s.sent {
		s.conn.SetReadDeadline(time.Now().Add(replyTimeout))
		line, err := br.ReadString('\n')
		if err != nil {
			s.fail(fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: the node stopped answering", s.into.Name)))
			break
		}
		if line = strings.TrimRight(line, "\r\n"); !strings.HasPrefix(line, "+") {
			if what != "AUTH" && what != "SELECT" {
				what = fmt.Sprintf("RESTORE %q", truncate(what))
			}
			s.fail(fault.E(fault.Unavailable, "restore into %s: %s: %s", s.into.Name, what, truncate(line)))
			break
		}
	}
	for range s.sent { // let the writer finish
	}
}

// command writes one command in RESP.
func (s *keyStream) command(args ...string) {
	fmt.Fprintf(s.bw, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(s.bw, "$%d\r\n%s\r\n", len(a), a)
	}
}

func (s *keyStream) bulk(b []byte) {
	s.bw.WriteByte('$')
	s.bw.WriteString(strconv.Itoa(len(b)))
	s.bw.WriteString("\r\n")
	s.bw.Write(b)
	s.bw.WriteString("\r\n")
}

// restore sends a key's RESTORE … ABSTTL (selecting its database first
// when it changes).
func (s *keyStream) restore(k *rdb.Key) error {
	if err := s.failed(); err != nil {
		return err
	}
	if k.DB != s.db {
		s.command("SELECT", strconv.Itoa(k.DB))
		s.sent <- "SELECT"
		s.db = k.DB
	}
	ttl := "0"
	if k.ExpireMS != -1 {
		ttl = strconv.FormatInt(k.ExpireMS, 10)
	}
	s.payload = rdb.DumpPayload(s.payload, k.Payload, s.version)
	n := 5
	if s.replace {
		n = 6
	}
	fmt.Fprintf(s.bw, "*%d\r\n$7\r\nRESTORE\r\n", n)
	s.bulk(k.Name)
	s.bulk([]byte(ttl))
	s.bulk(s.payload)
	s.bw.WriteString("$6\r\nABSTTL\r\n")
	if s.replace {
		s.bw.WriteString("$7\r\nREPLACE\r\n")
	}
	s.sent <- string(k.Name)
	return nil
}

// flush sends what is buffered, and returns the first failure.
func (s *keyStream) flush() error {
	if err := s.bw.Flush(); err != nil && s.failed() == nil {
		s.fail(fault.Wrap(fault.Unavailable, err, fmt.Sprintf("restore into %s: the node closed the connection", s.into.Name)))
	}
	return s.failed()
}

// close sends what is buffered, waits for every reply and returns the
// first failure.
func (s *keyStream) close() error {
	s.flush()
	close(s.sent)
	<-s.done
	s.stop()
	s.conn.Close()
	return s.failed()
}
