package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a node's OS Process: either our own child, reaped by a goroutine
// waiting on it, or one adopted from a previous broker, which only /proc can
// tell about.
type Process struct {
	PID  int
	conf string // the node's config path: it identifies the process in /proc

	cmd     *exec.Cmd     // nil for an adopted process
	done    chan struct{} // closed once our child is reaped; nil when adopted
	exitErr error         // cmd.Wait's result, set before done is closed
}

// Start launches the engine on conf as a detached child: its own session
// (a Ctrl-C in the broker's terminal and the broker's exit leave it running),
// its output in a file of the node's directory (dir), not in pipes to the
// broker. name tags the process's environment.
func (e Engine) Start(dir, conf, name string) (*Process, error) {
	engine := e.Path
	out, err := os.OpenFile(dir+"/"+OutFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, FilePerm)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	defer out.Close() // the child holds its own descriptor
	// exec.Command, not CommandContext: the node must outlive the request and
	// the broker.
	cmd := exec.Command(engine, conf)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LARDER_NODE=" + name,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startPrivate(cmd); err != nil {
		return nil, fmt.Errorf("exec %s: %w", engine, err)
	}
	p := &Process{PID: cmd.Process.Pid, conf: conf, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// umaskMu serialises startPrivate's changes of the process-wide umask.
var umaskMu sync.Mutex

// startPrivate starts cmd with umask 077, whatever larder's own, so that the
// files the engine creates (its log, pidfile, AOF and RDB files, the
// appendonly directory) are its owner's only: they hold the data. Go cannot
// set a child's umask alone, so larder's is 077 for the instant of the
// fork; a file another goroutine creates meanwhile only comes out stricter.
func startPrivate(cmd *exec.Cmd) error {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return cmd.Start()
}

// AdoptProcess returns the process of pid if it is alive and runs conf.
func AdoptProcess(pid int, conf string) (*Process, bool) {
	p := &Process{PID: pid, conf: conf}
	return p, p.Alive()
}

// Exited is closed when our child has been reaped; nil (never ready) for an
// adopted process.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Alive reports whether the process still runs. An adopted pid counts only if
// it exists, is not a zombie, and its command line names the node's config
// file, so a pid reused by another program is not mistaken for the node.
func (p *Process) Alive() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	if err := syscall.Kill(p.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil || ProcState(stat) == 'Z' || ProcState(stat) == 'X' {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(p.conf))
}

// ProcState is the state letter of a /proc/<pid>/stat line, "pid (comm) S …";
// comm may hold spaces and parentheses, so it is found after the last ')'.
func ProcState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	rest := bytes.TrimLeft(stat[i+1:], " ")
	if len(rest) == 0 {
		return 0
	}
	return rest[0]
}

// CPUTime is a counter that moves whenever the process runs: its main
// thread's CPU time in nanoseconds from /proc/<pid>/schedstat (the engine's
// event loop wakes ten times a second even when idle or paused, which shows
// there). Where the kernel keeps no schedstat, utime+stime from
// /proc/<pid>/stat (10 ms ticks, which an idle engine takes seconds to
// fill) plus its context switches from /proc/<pid>/status (one per wake-up).
// Only its changes mean anything.
func (p *Process) CPUTime() (int64, bool) {
	dir := "/proc/" + strconv.Itoa(p.PID)
	if b, err := os.ReadFile(dir + "/schedstat"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return n, true
			}
		}
	}
	return ticksAndSwitches(dir)
}

// ticksAndSwitches is cpuTime without schedstat.
func ticksAndSwitches(dir string) (int64, bool) {
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	// After the command: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime, so utime is the 12th field.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	n := ut + st
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n, true
}

// Stopped reports whether the process is Stopped by a signal (or traced).
func (p *Process) Stopped() bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return false
	}
	s := ProcState(stat)
	return s == 'T' || s == 't'
}

// ExitReason says how our child ended, for events and errors.
func (p *Process) ExitReason() string {
	if p.done == nil {
		return "process is gone"
	}
	select {
	case <-p.done:
	default:
		return "process is running"
	}
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	if p.exitErr != nil {
		return p.exitErr.Error()
	}
	return "exited"
}

// Signal sends sig to the process; SIGKILL goes to its whole process group
// (it leads its own session), so an AOF rewrite child dies with it.
func (p *Process) Signal(sig syscall.Signal) error {
	if !p.Alive() {
		return nil
	}
	if sig == syscall.SIGKILL {
		if pgid, err := syscall.Getpgid(p.PID); err == nil && pgid == p.PID {
			if err := syscall.Kill(-p.PID, sig); err == nil || errors.Is(err, syscall.ESRCH) {
				return nil
			}
		}
	}
	if err := syscall.Kill(p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %d: %w", p.PID, err)
	}
	return nil
}

// Gone reports whether the process has ended entirely. Unlike alive, it does
// not check an adopted process's command line: the kernel empties that early
// in an exit, before the process closes its files (and frees the node's
// port), so only a missing or zombie entry means it is over.
func (p *Process) Gone() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return true
		default:
			return false
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return true
	}
	s := ProcState(stat)
	return s == 'Z' || s == 'X'
}

// WaitGone waits until the process is gone or timeout passes. Our child's end
// is a channel; an adopted process is polled.
func (p *Process) WaitGone(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	if p.done != nil {
		select {
		case <-p.done:
			return true
		case <-timer.C:
			return false
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !p.Gone() {
		select {
		case <-tick.C:
		case <-timer.C:
			return p.Gone()
		}
	}
	return true
}

// Stop asks the process to exit (SIGTERM: the engine flushes its AOF), waits
// up to grace, then SIGKILLs it and waits for it to be gone.
func (p *Process) Stop(grace time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if p.WaitGone(grace) {
		return nil
	}
	return p.Kill()
}

// Kill SIGKILLs the process and waits for it to be gone.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	if !p.WaitGone(5 * time.Second) {
		return fmt.Errorf("kill %d: still running after SIGKILL", p.PID)
	}
	return nil
}

// ReadPidfile returns the pid the engine wrote, or 0.
func ReadPidfile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// FileSize is the size of path, or 0; it marks where a start's log begins.
func FileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogTail returns the last lines written to path since offset, at most max
// bytes, with every secret replaced, for start errors.
func LogTail(path string, offset int64, max int, secrets ...string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	size := FileSize(path)
	if size-offset > int64(max) {
		offset = size - int64(max)
	}
	if offset < 0 || offset > size {
		offset = 0
	}
	buf := make([]byte, size-offset)
	n, _ := f.ReadAt(buf, offset)
	text := Redact(string(buf[:n]), secrets...)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.TrimSpace(strings.Join(lines, " | "))
}

// pollInterval is how long a readiness poll waits before its next try: very
// short at first, because a node starts in tens of milliseconds and
// provisioning latency matters, then longer for a node loading a big AOF.
func pollInterval(elapsed time.Duration) time.Duration {
	switch {
	case elapsed < 50*time.Millisecond:
		return 2 * time.Millisecond
	case elapsed < 500*time.Millisecond:
		return 5 * time.Millisecond
	default:
		return 20 * time.Millisecond
	}
}

// WaitReady polls PING as admin until it answers, the process dies, the
// timeout passes or ctx ends. A node that answers LOADING is alive and
// replaying its AOF; it gets up to loadTimeout instead.
func WaitReady(ctx context.Context, p *Process, addr string, admin User, timeout, loadTimeout time.Duration) error {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Exited():
			return fmt.Errorf("engine exited: %s", p.ExitReason())
		case <-timer.C:
		}
		if p.Exited() == nil && !p.Alive() {
			return errors.New("engine process is gone")
		}
		limit := timeout
		if errors.Is(last, errLoading) {
			limit = max(timeout, loadTimeout)
		}
		left := time.Until(start.Add(limit))
		if left <= 0 {
			if last == nil {
				last = errors.New("no answer")
			}
			return fmt.Errorf("no PING answer within %v: %w", limit, last)
		}
		last = pingAdmin(ctx, addr, admin, min(left, 250*time.Millisecond))
		if last == nil {
			if !p.Alive() { // someone else answered on our port
				return fmt.Errorf("engine exited: %s", p.ExitReason())
			}
			return nil
		}
		if errors.Is(last, errAuth) {
			return fmt.Errorf("ping: %w", last)
		}
		timer.Reset(pollInterval(time.Since(start)))
	}
}
