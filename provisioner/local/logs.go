package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
)

// logPollEvery is how often a wait for a node's log line looks at the file
// when the kernel cannot tell it (inotify refused: no watches left).
const logPollEvery = 250 * time.Millisecond

// Logs reads the node's log (engine.LogFile in its directory) after
// req.From, with every password of spec redacted. With nothing new it waits
// for a write to the node's directory (inotify), up to req.Wait.
func (h *Host) Logs(ctx context.Context, spec provisioner.NodeSpec, req provisioner.LogRequest) (provisioner.LogChunk, error) {
	spec = engine.Normalize(spec)
	if err := engine.Validate(spec); err != nil {
		return provisioner.LogChunk{}, err
	}
	req = req.Bounded()
	dir := h.NodeDir(spec)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return provisioner.LogChunk{}, fault.E(fault.NotFound, "node %s has no directory on host %s", spec.Name, h.Name())
	}
	path, secrets := filepath.Join(dir, engine.LogFile), spec.Passwords()
	read := func() (provisioner.LogChunk, error) {
		c, err := engine.ReadLog(path, req.From, req.Max, secrets...)
		if err != nil {
			return c, fmt.Errorf("read the log of node %s: %w", spec.Name, err)
		}
		return c, nil
	}
	c, err := read()
	if err != nil || len(c.Lines) > 0 || c.Reset || req.Wait <= 0 {
		return c, err
	}
	ctx, cancel := context.WithTimeout(ctx, req.Wait)
	defer cancel()
	wake, stop := watchDir(ctx, dir)
	defer stop()
	for {
		// Read again once the watch is set: a line written before it
		// would otherwise wait for the next one.
		if c, err = read(); err != nil || len(c.Lines) > 0 || c.Reset {
			return c, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return provisioner.LogChunk{}, err
			}
			return c, nil // the wait ran out with nothing new
		}
	}
}

// watchDir returns a channel that receives after each change in dir (any
// file written, created or moved in: the node's log among them), until ctx
// ends or stop is called. Where inotify is refused it ticks every
// logPollEvery instead.
func watchDir(ctx context.Context, dir string) (<-chan struct{}, func()) {
	wake := make(chan struct{}, 1)
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err == nil {
		_, err = unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF)
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		t := time.NewTicker(logPollEvery)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					notify(wake)
				}
			}
		}()
		return wake, t.Stop
	}
	// A non-blocking descriptor goes to the runtime's poller, so closing
	// the file ends a read that waits on it.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			notify(wake)
		}
	}()
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	return wake, func() {
		f.Close()
		<-done
	}
}

// notify sends one wake-up without blocking: a pending one covers it.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
