// Package rediscli is `larder redis:cli`: a redis-cli look-alike session to
// an add-on over one connection — prompts and redis-cli's terminal formats
// for a person, bare replies for piped commands, a reconnection after a lost
// connection, and SUBSCRIBE and MONITOR read until Ctrl-C.
package rediscli

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
	"larder/fault"
)

const redisDialTimeout = 10 * time.Second

// Command is `larder redis:cli`.
func Command(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:cli [NAME] -a APP"
	return &cli.Command{
		Name:      "redis:cli",
		Category:  "redis",
		Usage:     "open a redis-cli style session to an add-on",
		UsageText: usage,
		Description: "On a terminal, type commands at the host:port> prompt; quit, exit or Ctrl-D\n" +
			"ends the session. Quote arguments as in redis-cli: SET greeting \"hello\\nworld\".\n\n" +
			"With commands piped in, there is no prompt and replies are printed bare,\n" +
			"one line per value, as redis-cli does for scripts:\n\n" +
			"   echo 'INCR hits' | larder redis:cli -a web\n\n" +
			"A command the server refuses is printed and the session goes on; a lost\n" +
			"connection is made again for the next command. The exit status is 1 only\n" +
			"when the first connection fails.\n\n" +
			"NAME defaults to the app's only add-on, or the one attached as REDIS.",
		Flags: []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			cred, err := t.Client.Credentials(c.Context, t.App, t.Addon.Name)
			if err != nil {
				return err
			}
			opt, err := redis.ParseURL(cred.URL)
			if err != nil {
				// Its error quotes the URL, password and all: leave it out.
				return fault.E(fault.Internal, "the connection URL of %s could not be read", t.Addon.Name)
			}
			rs := newRedisSession(opt, s.Interactive, s.Stdout, s.Stderr)
			if rs.tty {
				fmt.Fprintf(s.Stderr, "Connecting to %s:\n", t.Label())
			}
			if err := rs.connect(c.Context); err != nil {
				if c.Context.Err() != nil {
					return c.Context.Err()
				}
				return fault.E(fault.Unavailable, "cannot connect to %s at %s: %v", t.Addon.Name, rs.addr, err)
			}
			next, stop := readLines(c.Context, s.Stdin)
			defer stop()
			return rs.run(c.Context, next)
		},
	}
}

// redisSession is one redis:cli session: lines in, replies out, over one
// connection, made again when lost.
type redisSession struct {
	dial  func(context.Context) (io.ReadWriteCloser, error)
	auth  []string // the AUTH command every connection starts with; nil without a password
	addr  string   // host:port, for the prompt
	tty   bool     // a person types: prompts, and replies as redis-cli shows them on a terminal
	out   io.Writer
	notes io.Writer // prompts and connection news

	conn     io.ReadWriteCloser
	rd       *bufio.Reader
	wr       *bufio.Writer
	unwatch  func() bool // stops closing conn when the context ends
	database int         // selected database, kept across reconnections
}

func newRedisSession(opt *redis.Options, tty bool, out, notes io.Writer) *redisSession {
	rs := &redisSession{
		dial:     func(ctx context.Context) (io.ReadWriteCloser, error) { return dialRedis(ctx, opt) },
		addr:     opt.Addr,
		tty:      tty,
		out:      out,
		notes:    notes,
		database: opt.DB,
	}
	switch {
	case opt.Username != "":
		rs.auth = []string{"AUTH", opt.Username, opt.Password}
	case opt.Password != "":
		rs.auth = []string{"AUTH", opt.Password}
	}
	return rs
}

func dialRedis(ctx context.Context, opt *redis.Options) (io.ReadWriteCloser, error) {
	d := &net.Dialer{Timeout: redisDialTimeout, KeepAlive: 15 * time.Second}
	if opt.TLSConfig != nil {
		return (&tls.Dialer{NetDialer: d, Config: opt.TLSConfig}).DialContext(ctx, opt.Network, opt.Addr)
	}
	return d.DialContext(ctx, opt.Network, opt.Addr)
}

// connect dials, authenticates and selects the session's database. The
// connection is closed when ctx ends, which unblocks any read on it.
func (rs *redisSession) connect(ctx context.Context) error {
	conn, err := rs.dial(ctx)
	if err != nil {
		return err
	}
	rs.conn, rs.rd, rs.wr = conn, bufio.NewReader(conn), bufio.NewWriter(conn)
	rs.unwatch = context.AfterFunc(ctx, func() { conn.Close() })
	dl, hasDeadline := conn.(interface{ SetDeadline(time.Time) error })
	if hasDeadline {
		_ = dl.SetDeadline(time.Now().Add(redisDialTimeout))
	}
	var setup [][]string
	if rs.auth != nil {
		setup = append(setup, rs.auth)
	}
	if rs.database != 0 {
		setup = append(setup, []string{"SELECT", strconv.Itoa(rs.database)})
	}
	for _, args := range setup {
		r, err := rs.roundTrip(args)
		if err == nil && r.isError() {
			err = errors.New(r.str)
		}
		if err != nil {
			rs.drop()
			return fmt.Errorf("%s: %w", strings.ToLower(args[0]), err)
		}
	}
	if hasDeadline {
		_ = dl.SetDeadline(time.Time{}) // BLPOP 0 and SUBSCRIBE may wait for ever
	}
	return nil
}

func (rs *redisSession) roundTrip(args []string) (reply, error) {
	if err := writeCommand(rs.wr, args); err != nil {
		return reply{}, err
	}
	return readReply(rs.rd)
}

// drop closes the connection, if any.
func (rs *redisSession) drop() {
	if rs.conn == nil {
		return
	}
	rs.unwatch()
	rs.conn.Close()
	rs.conn = nil
}

// run executes lines until quit, exit, the end of input or ctx ends. Only a
// failure to write output, or an interruption of piped input, is an error.
func (rs *redisSession) run(ctx context.Context, next func() (string, bool)) error {
	defer rs.drop()
	for {
		if rs.tty {
			fmt.Fprint(rs.notes, rs.prompt())
		}
		line, ok := next()
		if !ok {
			if rs.tty {
				fmt.Fprintln(rs.notes) // end the prompt's line
			}
			break
		}
		args, err := splitArgs(line)
		if err != nil {
			fmt.Fprintln(rs.notes, err)
			continue
		}
		if len(args) == 0 {
			continue
		}
		if name := strings.ToLower(args[0]); name == "quit" || name == "exit" {
			break
		}
		if err := rs.command(ctx, args); err != nil {
			if ctx.Err() == nil {
				return err
			}
			break
		}
	}
	if rs.tty {
		fmt.Fprintln(rs.notes, "Disconnected from instance.")
		return nil // Ctrl-C is how people leave a session
	}
	return ctx.Err()
}

func (rs *redisSession) prompt() string {
	switch {
	case rs.conn == nil:
		return "not connected> "
	case rs.database != 0:
		return fmt.Sprintf("%s[%d]> ", rs.addr, rs.database)
	}
	return rs.addr + "> "
}

// subscribeCommands put the connection in a mode where it replies until
// closed; redis-cli then reads until Ctrl-C.
var subscribeCommands = map[string]bool{"subscribe": true, "psubscribe": true, "ssubscribe": true}

// command sends args and prints the replies. A refused command or a lost
// connection is printed and is not an error: the session goes on.
func (rs *redisSession) command(ctx context.Context, args []string) error {
	if rs.conn == nil {
		if err := rs.connect(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(rs.notes, "Could not connect to Redis at %s: %v\n", rs.addr, err)
			return nil
		}
	}
	name := strings.ToLower(args[0])
	streaming := subscribeCommands[name] || name == "monitor"
	if err := writeCommand(rs.wr, args); err != nil {
		return rs.lost(ctx, err)
	}
	if subscribeCommands[name] && rs.tty {
		fmt.Fprintln(rs.notes, "Reading messages... (press Ctrl-C to quit)")
	}
	for {
		r, err := readReply(rs.rd)
		if err != nil {
			return rs.lost(ctx, err)
		}
		if _, err := io.WriteString(rs.out, formatReply(args, r, rs.tty)); err != nil {
			return err
		}
		switch {
		case streaming && !r.isError():
			continue
		case r.kind == replyPush:
			continue // RESP3 out-of-band data (client tracking); the reply comes next
		case name == "select" && len(args) == 2 && !r.isError():
			rs.database, _ = strconv.Atoi(args[1])
		}
		return nil
	}
}

// lost reports a connection that failed mid-command and drops it; the next
// command connects again. The command may or may not have run, so it is
// not sent again.
func (rs *redisSession) lost(ctx context.Context, err error) error {
	rs.drop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		fmt.Fprintln(rs.notes, "Error: Server closed the connection")
	} else {
		fmt.Fprintf(rs.notes, "Error: %v\n", err)
	}
	return nil
}

// readLines reads r line by line in the background, so that waiting for a
// line ends with ctx (Ctrl-C at the prompt). next returns false at the end
// of input or of ctx. After stop the reader goroutine ends with its next line
// or the end of r; a read from a terminal cannot be interrupted, and the
// process is about to exit then anyway.
func readLines(ctx context.Context, r io.Reader) (next func() (string, bool), stop func()) {
	lines := make(chan string)
	done := make(chan struct{})
	go func() {
		defer close(lines)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				select {
				case lines <- strings.TrimRight(line, "\r\n"):
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	next = func() (string, bool) {
		select {
		case <-ctx.Done():
			return "", false
		case line, ok := <-lines:
			return line, ok
		}
	}
	var once sync.Once
	return next, func() { once.Do(func() { close(done) }) }
}
