// Package scratch runs throwaway engine processes: the node a backup is
// loaded into to verify it, and the nodes the backup tests and benchmarks
// capture from. A scratch node listens on a unix socket in a private
// directory (and on a TCP port only when asked), so it needs no port from
// the broker's range and nobody else can reach it; it is stopped with
// SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL, and it dies with the process
// that started it.
package scratch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
)

// Options describe a scratch node.
type Options struct {
	Engine string // the engine binary; "" finds one (see FindEngine)
	// Dir is the data directory (dump.rdb lives there). "" makes a temporary
	// one that Stop removes; a given Dir is left in place.
	Dir string
	// Port, when not 0, also makes the node listen on Bind:Port (Bind
	// defaults to 127.0.0.1).
	Port int
	Bind string
	// Config lines are appended to the node's config, so they override ours:
	// "user backup on >secret -@all +psync", "maxmemory 1gb".
	Config []string
	// DetachedReplica loads the data as a replica of a listener that never
	// answers: a replica keeps the keys whose expiry has passed (a primary
	// drops them while loading), so every key of the RDB is there to count.
	// The node still answers reads and SAVE; it refuses writes.
	DetachedReplica bool
	// StartTimeout bounds the start, data loading included; default 10 min.
	StartTimeout time.Duration
}

// Server is a running scratch node.
type Server struct {
	Dir      string // the data directory
	Socket   string // the unix socket
	Port     int    // the TCP port, 0 when none
	Password string // the default user's password
	Engine   string

	run     string // private directory: config, socket, log
	ownDir  bool
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	hold    net.Listener // the "primary" a detached replica never reaches
	stop    sync.Once
}

// EngineEnv names the engine binary to use, as for the provisioner.
const EngineEnv = "LARDER_ENGINE"

// FindEngine returns $LARDER_ENGINE, else valkey-server or redis-server from
// PATH.
func FindEngine() (string, error) {
	if e := os.Getenv(EngineEnv); e != "" {
		return exec.LookPath(e)
	}
	for _, name := range []string{"valkey-server", "redis-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fault.E(fault.Unavailable, "no valkey-server or redis-server on PATH (or set %s)", EngineEnv)
}

// Start starts a node and returns once it has loaded its data and answers.
func Start(ctx context.Context, opts Options) (s *Server, err error) {
	if opts.Engine == "" {
		if opts.Engine, err = FindEngine(); err != nil {
			return nil, err
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Minute
	}
	s = &Server{Dir: opts.Dir, Port: opts.Port, Engine: opts.Engine, done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	// The socket's path must stay under the kernel's ~108 bytes, so the
	// private directory is a short one in the system's temp dir.
	if s.run, err = os.MkdirTemp("", "larder-scratch-"); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "make a scratch node's directory")
	}
	if s.Dir == "" {
		s.ownDir = true
		s.Dir = filepath.Join(s.run, "data")
		if err := os.Mkdir(s.Dir, 0o700); err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "make a scratch node's directory")
		}
	}
	s.Socket = filepath.Join(s.run, "engine.sock")
	if len(s.Socket) > 100 {
		return nil, fault.E(fault.Unavailable, "scratch socket path %s is too long: set TMPDIR to a shorter directory", s.Socket)
	}
	s.Password = randomHex()
	conf, err := s.config(opts)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(s.run, "engine.conf")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "write a scratch node's config")
	}
	s.cmd = exec.Command(opts.Engine, confPath)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := os.OpenFile(filepath.Join(s.run, "engine.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "open a scratch node's output")
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	err = s.cmd.Start()
	out.Close()
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "start "+filepath.Base(opts.Engine))
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	return s, s.waitReady(ctx, opts.StartTimeout)
}

func (s *Server) config(opts Options) ([]byte, error) {
	var b bytes.Buffer
	line := func(k string, v any) { fmt.Fprintf(&b, "%s %v\n", k, v) }
	line("port", opts.Port)
	if opts.Port != 0 {
		bind := opts.Bind
		if bind == "" {
			bind = "127.0.0.1"
		}
		line("bind", bind)
	}
	line("unixsocket", quote(s.Socket))
	line("unixsocketperm", 700)
	line("dir", quote(s.Dir))
	line("dbfilename", "dump.rdb")
	line("logfile", quote(filepath.Join(s.run, "engine.log")))
	line("daemonize", "no")
	line("save", `""`)
	line("appendonly", "no")
	line("requirepass", s.Password)
	line("repl-diskless-sync", "yes")
	line("repl-diskless-sync-delay", 0)
	if opts.DetachedReplica {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "listen for a scratch replica's primary")
		}
		s.hold = l
		line("replicaof", "127.0.0.1 "+strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	for _, c := range opts.Config {
		if strings.ContainsAny(c, "\r\n") {
			return nil, fault.E(fault.Invalid, "scratch config line with a line break")
		}
		b.WriteString(c + "\n")
	}
	return b.Bytes(), nil
}

// waitReady polls PING until the node answers (LOADING means not yet), the
// process exits or the deadline passes.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = s.ping(); last == nil {
			return nil
		}
		select {
		case <-s.done:
			return fault.E(fault.Unavailable, "the scratch node exited while starting: %s", s.LogTail())
		case <-ctx.Done():
			return fault.E(fault.Unavailable, "the scratch node did not answer within %s (%v): %s", timeout, last, s.LogTail())
		case <-tick.C:
		}
	}
}

// ping authenticates and sends PING on a connection of its own (a client
// library's pool would log every refused dial while the node starts).
func (s *Server) ping() error {
	conn, err := net.DialTimeout("unix", s.Socket, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n", len(s.Password), s.Password)
	r := bufio.NewReader(conn)
	for _, want := range []string{"+OK", "+PONG"} {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line = strings.TrimSpace(line); line != want {
			return errors.New(line)
		}
	}
	return nil
}

// Exited reports whether the process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Client connects to database db over the unix socket.
func (s *Server) Client(db int) *redis.Client {
	return redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket, Password: s.Password, DB: db,
		ReadTimeout: 5 * time.Minute, MaxRetries: -1, PoolSize: 4, DisableIdentity: true, Protocol: 2})
}

// LogTail returns the last lines of the engine's log, for error messages.
func (s *Server) LogTail() string {
	var lines []string
	for _, name := range []string{"engine.out", "engine.log"} {
		data, _ := os.ReadFile(filepath.Join(s.run, name))
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) > 4 {
		lines = lines[len(lines)-4:]
	}
	if len(lines) == 0 {
		return "(the engine logged nothing)"
	}
	return strings.Join(lines, " | ")
}

// Stop shuts the node down without saving and removes the directories it
// made. It is safe to call more than once.
func (s *Server) Stop() error {
	var err error
	s.stop.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil && !s.Exited() {
			c := s.Client(0)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.Do(ctx, "SHUTDOWN", "NOSAVE") // the connection dies with the process
			cancel()
			c.Close()
			err = s.reap()
		}
		if s.hold != nil {
			s.hold.Close()
		}
		if s.run != "" {
			if rerr := os.RemoveAll(s.run); rerr != nil && err == nil {
				err = rerr
			}
		}
	})
	return err
}

// reap waits for the process, then SIGTERMs and finally SIGKILLs its group.
func (s *Server) reap() error {
	for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
		if sig != 0 {
			syscall.Kill(-s.cmd.Process.Pid, sig)
		}
		select {
		case <-s.done:
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the scratch node did not exit after SIGKILL")
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func randomHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
