package provisioner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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
	req := respCommand("AUTH", u.Name, u.Password) + respCommand("PING")
	if _, err := conn.Write([]byte(req)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	r := bufio.NewReader(conn)
	auth, err := readSimpleReply(r)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if auth != "+OK" {
		return fmt.Errorf("auth: %w: %s", errAuth, firstWord(auth))
	}
	pong, err := readSimpleReply(r)
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

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

// readSimpleReply reads one line reply (+status or -error) without its CRLF.
func readSimpleReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" || (line[0] != '+' && line[0] != '-') {
		return "", fmt.Errorf("unexpected reply %q", truncate(line, 20))
	}
	return line, nil
}

// firstWord is the error code of a reply ("-WRONGPASS"), enough to tell
// what went wrong without echoing anything the server sent back.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return truncate(w, 32)
}
