package rediscli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// scriptConn is a connection whose peer answers with replies, written in
// advance: the session writes a command, then reads its reply.
type scriptConn struct {
	replies io.Reader
	sent    bytes.Buffer
	closed  bool
}

func script(replies ...string) *scriptConn {
	return &scriptConn{replies: strings.NewReader(strings.Join(replies, ""))}
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.replies.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return c.sent.Write(p) }
func (c *scriptConn) Close() error                { c.closed = true; return nil }

// commands decodes what the session sent.
func (c *scriptConn) commands(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	rd := bufio.NewReader(bytes.NewReader(c.sent.Bytes()))
	for {
		r, err := readReply(rd)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("the session sent something that is not RESP: %v", err)
		}
		var args []string
		for _, e := range r.elems {
			args = append(args, e.str)
		}
		out = append(out, args)
	}
}

const okReply = "+OK\r\n"

type sessionRun struct {
	out, notes bytes.Buffer
	err        error
}

// runSession runs a session over conns (one per connection made) with lines
// as its input.
func runSession(t *testing.T, tty bool, lines []string, conns ...*scriptConn) *sessionRun {
	t.Helper()
	res := &sessionRun{}
	rs := &redisSession{addr: "127.0.0.1:6379", tty: tty, out: &res.out, notes: &res.notes, auth: []string{"AUTH", "default", "pw"}}
	rs.dial = func(context.Context) (io.ReadWriteCloser, error) {
		if len(conns) == 0 {
			return nil, errors.New("connection refused")
		}
		c := conns[0]
		conns = conns[1:]
		return c, nil
	}
	ctx := context.Background()
	if tty { // the command connects before the first prompt
		if err := rs.connect(ctx); err != nil {
			t.Fatalf("connect: %v", err)
		}
	}
	res.err = rs.run(ctx, func() (string, bool) {
		if len(lines) == 0 {
			return "", false
		}
		l := lines[0]
		lines = lines[1:]
		return l, true
	})
	return res
}

func checkSession(t *testing.T, got *sessionRun, wantOut, wantNotes string) {
	t.Helper()
	if got.err != nil {
		t.Errorf("run: %v", got.err)
	}
	if got.out.String() != wantOut {
		t.Errorf("stdout:\n got %q\nwant %q", got.out.String(), wantOut)
	}
	if got.notes.String() != wantNotes {
		t.Errorf("stderr:\n got %q\nwant %q", got.notes.String(), wantNotes)
	}
}

func checkSent(t *testing.T, c *scriptConn, want ...[]string) {
	t.Helper()
	if got := c.commands(t); !reflect.DeepEqual(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

var auth = []string{"AUTH", "default", "pw"}

func TestRedisSessionPiped(t *testing.T) {
	c := script(okReply, okReply, "$1\r\n1\r\n", "-ERR unknown command 'BOGUS'\r\n", "*2\r\n$1\r\na\r\n$-1\r\n")
	got := runSession(t, false, []string{"SET a 1", "", "GET a", "BOGUS", `GET "unbalanced`, "MGET a b", "quit", "GET never"}, c)
	checkSession(t, got, "OK\n1\nERR unknown command 'BOGUS'\n\na\n\n", "Invalid argument(s)\n")
	checkSent(t, c, auth, []string{"SET", "a", "1"}, []string{"GET", "a"}, []string{"BOGUS"}, []string{"MGET", "a", "b"})
	if !c.closed {
		t.Error("the connection was left open")
	}
}

func TestRedisSessionTerminal(t *testing.T) {
	c := script(okReply, okReply, "$-1\r\n", "-ERR DB index is out of range\r\n")
	got := runSession(t, true, []string{"SELECT 2", "GET a", "select 99"}, c)
	p := "127.0.0.1:6379> "
	p2 := "127.0.0.1:6379[2]> "
	checkSession(t, got, "OK\n(nil)\n(error) ERR DB index is out of range\n", p+p2+p2+p2+"\nDisconnected from instance.\n")
}

func TestRedisSessionQuitOnTerminal(t *testing.T) {
	got := runSession(t, true, []string{"EXIT"}, script(okReply))
	checkSession(t, got, "", "127.0.0.1:6379> Disconnected from instance.\n")
}

func TestRedisSessionReconnects(t *testing.T) {
	first := script(okReply, okReply) // AUTH, SELECT 2, then the server hangs up
	second := script(okReply, okReply, "$1\r\nx\r\n")
	got := runSession(t, false, []string{"SELECT 2", "GET a", "GET a"}, first, second)
	checkSession(t, got, "OK\nx\n", "Error: Server closed the connection\n")
	checkSent(t, second, auth, []string{"SELECT", "2"}, []string{"GET", "a"})
	if !first.closed {
		t.Error("the lost connection was left open")
	}
}

func TestRedisSessionSubscribe(t *testing.T) {
	replies := []string{okReply,
		"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
		"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"} // then the server hangs up
	t.Run("piped", func(t *testing.T) {
		got := runSession(t, false, []string{"SUBSCRIBE ch", "GET a"}, script(replies...))
		checkSession(t, got, "subscribe\nch\n1\nmessage\nch\nhi\n",
			"Error: Server closed the connection\nCould not connect to Redis at 127.0.0.1:6379: connection refused\n")
	})
	t.Run("terminal", func(t *testing.T) {
		got := runSession(t, true, []string{"subscribe ch"}, script(replies...))
		checkSession(t, got,
			"1) \"subscribe\"\n2) \"ch\"\n3) (integer) 1\n1) \"message\"\n2) \"ch\"\n3) \"hi\"\n",
			"127.0.0.1:6379> Reading messages... (press Ctrl-C to quit)\nError: Server closed the connection\nnot connected> \nDisconnected from instance.\n")
	})
	t.Run("refused", func(t *testing.T) {
		got := runSession(t, false, []string{"SUBSCRIBE ch", "PING"}, script(okReply, "-NOPERM no channel\r\n", "+PONG\r\n"))
		checkSession(t, got, "NOPERM no channel\n\nPONG\n", "")
	})
}

func TestRedisSessionPushBeforeReply(t *testing.T) {
	got := runSession(t, false, []string{"GET a"}, script(okReply, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n", "$1\r\n1\r\n"))
	checkSession(t, got, "invalidate\na\n1\n", "")
}

func TestRedisSessionAuthRefused(t *testing.T) {
	c := script("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	rs := &redisSession{auth: auth, dial: func(context.Context) (io.ReadWriteCloser, error) { return c, nil }}
	err := rs.connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "auth: WRONGPASS") || strings.Contains(err.Error(), "pw") {
		t.Errorf("connect: got %v, want the refusal without the password", err)
	}
	if !c.closed || rs.conn != nil {
		t.Error("a refused connection was kept")
	}
}

func TestRedisSessionInterrupted(t *testing.T) {
	for _, tty := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		var out, notes bytes.Buffer
		rs := &redisSession{addr: "h:1", tty: tty, out: &out, notes: &notes}
		err := rs.run(ctx, func() (string, bool) { cancel(); return "", false })
		want := context.Canceled
		if tty {
			want = nil // leaving with Ctrl-C is normal on a terminal
		}
		if !errors.Is(err, want) || err != nil && want == nil {
			t.Errorf("tty=%v: run after Ctrl-C: got %v, want %v", tty, err, want)
		}
	}
}

func TestReadLines(t *testing.T) {
	next, stop := readLines(context.Background(), strings.NewReader("SET a 1\r\n\nGET a"))
	defer stop()
	var got []string
	for {
		line, ok := next()
		if !ok {
			break
		}
		got = append(got, line)
	}
	if want := []string{"SET a 1", "", "GET a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("readLines: got %q, want %q", got, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe() // a terminal nobody types into
	defer pw.Close()
	next, stop = readLines(ctx, pr)
	defer stop()
	cancel()
	if line, ok := next(); ok {
		t.Errorf("readLines after cancel: got %q, want the end", line)
	}
}
