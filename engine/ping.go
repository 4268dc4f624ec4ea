package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// errAuth is wrapped when the node refuses the admin user's credentials.
var errAuth = errors.New("admin credentials refused")

// errLoading is wrapped when the node is up but still loading its dataset.
var errLoading = errors.New("node is loading its dataset")

// pingAdmin dials addr, authenticates as u and sends PING, all on one fresh
// connection within timeout. It speaks RESP directly rather than through a
// client pool: it is called every few milliseconds while a node starts, and a
// pool's dial-error backoff would add whole seconds to provisioning.
func pingAdmin(ctx context.Context, addr string, u User, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	req := EncodeCommand("AUTH", u.Name, u.Password) + EncodeCommand("PING")
	if _, err := conn.Write([]byte(req)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	r := bufio.NewReader(conn)
	auth, err := statusOf(r)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if auth != "+OK" {
		return fmt.Errorf("auth: %w: %s", errAuth, firstWord(auth))
	}
	pong, err := statusOf(r)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	switch {
	case pong == "+PONG":
		return nil
	case strings.HasPrefix(pong, "-LOADING"):
		return errLoading
	default:
		return fmt.Errorf("ping: unexpected reply %s", firstWord(pong))
	}
}

// EncodeCommand encodes a command as a RESP array of bulk strings.
func EncodeCommand(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

// RespError is an error reply of the engine ("-ERR …", "-BUSY …"): an
// answer, unlike a broken connection.
type RespError string

func (e RespError) Error() string { return string(e) }

// Is makes a refused connection match ErrNodeFull.
func (e RespError) Is(target error) bool {
	return target == ErrNodeFull && strings.Contains(string(e), "max number of clients")
}

// ErrNodeFull is matched (errors.Is) by the engine's refusal of a new
// connection when it holds maxclients already: the app holds every
// connection its plan allows. The node is alive; larder just got no slot.
var ErrNodeFull = errors.New("node is full: max number of clients reached")

// Limits on a reply, so a confused peer cannot make larder allocate without end.
const (
	maxBulk  = 64 << 20
	maxArray = 1 << 20
)

// ReadReply reads one RESP2 reply: a string (status or bulk), an int64, a
// []any, nil (a null), or a respError value for an error reply. err is only
// for a connection or protocol failure.
func ReadReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("unexpected reply %q", Truncate(strings.TrimRight(line, "\r\n"), 20))
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return RespError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		switch {
		case err != nil || n > maxBulk:
			return nil, fmt.Errorf("bad bulk length %q", Truncate(body, 20))
		case n < 0:
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		switch {
		case err != nil || n > maxArray:
			return nil, fmt.Errorf("bad array length %q", Truncate(body, 20))
		case n < 0:
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = ReadReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", Truncate(strings.TrimRight(line, "\r\n"), 20))
}

// statusOf reads a one-line reply (+status or -error) as its line, with its
// sign, as the engine sent it.
func statusOf(r *bufio.Reader) (string, error) {
	v, err := ReadReply(r)
	switch v := v.(type) {
	case nil:
		if err == nil {
			err = errors.New("unexpected null reply")
		}
		return "", err
	case RespError:
		return "-" + string(v), nil
	case string:
		return "+" + v, nil
	}
	return "", fmt.Errorf("unexpected reply %v", v)
}

// firstWord is the error code of a reply ("-WRONGPASS"), enough to tell
// what went wrong without echoing anything the server sent back.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return Truncate(w, 32)
}
