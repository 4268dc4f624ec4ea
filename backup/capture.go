package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"

	"larder/backup/rdb"
	"larder/fault"
)

// Meta is what the broker knows about the backup's add-on.
type Meta struct {
	AddonID   string
	AddonName string
	Plan      string
	// Engine is read from the RDB's aux fields when left empty.
	Engine Engine
	// Role of the source node: "standby" (preferred: no load on the
	// primary) or "primary".
	Role string
}

// CaptureOptions tune a capture; zero values take the defaults noted.
type CaptureOptions struct {
	DialTimeout time.Duration // default 10s
	// IdleTimeout fails a capture when the node sends nothing for this
	// long; default 60s (a node preparing an RDB on disk sends a newline
	// every second).
	IdleTimeout time.Duration
	// Compression is the gzip level of the archive; default
	// gzip.NoCompression. The engine already compresses every string in an
	// RDB (LZF), so gzip gains little on top (6% of the benchmark's 591 MB
	// RDB at level 1) and costs more CPU than the rest of the capture
	// (level 1 runs at ~165 MB/s on one of the reference machine's cores,
	// where hashing and reading the RDB take ~5 ms of CPU per MB).
	Compression *int
	Now         func() time.Time
}

func (o *CaptureOptions) setDefaults() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.Compression == nil {
		level := gzip.NoCompression
		o.Compression = &level
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Capture takes a point-in-time snapshot of a running node over the
// network, the way a replica's full sync does (see CaptureACL), and writes
// it as an archive at path. The RDB streams into the archive while it is
// hashed and read (rdb.Scan) for its key count and digest: nothing touches
// the node's files, so a node on a remote host is captured the same way.
// The node keeps serving: it forks, and the fork streams the snapshot.
//
// The archive appears at path only when complete (temp file, fsync,
// rename); on any failure, a full disk included, nothing is left.
func Capture(ctx context.Context, src Node, meta Meta, path string, opts CaptureOptions) (m *Manifest, err error) {
	opts.setDefaults()
	started := opts.Now()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, storageError(err, "capture: create the archive")
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return nil, storageError(err, "capture: create the archive")
	}
	aw, err := newArchiveWriter(f, *opts.Compression)
	if err != nil {
		return nil, storageError(err, "capture: write the archive")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := openSync(ctx, src, opts.DialTimeout, opts.IdleTimeout)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	sum, err := pump(s.rdb, aw, func() { s.Close() })
	stop()
	s.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fault.Wrap(fault.Unavailable, ctx.Err(), "capture from "+src.Name+": interrupted")
		}
		return nil, captureError(src, err)
	}
	m = &Manifest{Format: ManifestFormat, AddonID: meta.AddonID, AddonName: meta.AddonName, Plan: meta.Plan,
		Engine: meta.Engine, RDBVersion: sum.Version, StartedAt: started.UTC(), FinishedAt: opts.Now().UTC(),
		Source: Source{Node: src.Name, Role: meta.Role, Address: src.Address()},
		Keys:   sum.Keys, DBs: sum.DBs, Functions: sum.Functions, Digest: sum.Digest, Files: []File{aw.rdbFile()}}
	if m.Engine.Name == "" {
		m.Engine = engineFromAux(sum.Aux)
	}
	if m.DBs == nil {
		m.DBs = []rdb.DB{}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := aw.finish(append(data, '\n'), m.FinishedAt); err != nil {
		return nil, storageError(err, "capture: write the archive")
	}
	if err := f.Sync(); err != nil {
		return nil, storageError(err, "capture: sync the archive")
	}
	if err := f.Close(); err != nil {
		return nil, storageError(err, "capture: write the archive")
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return nil, storageError(err, "capture: rename the archive")
	}
	return m, syncDir(filepath.Dir(path))
}

// chunkSize is the unit the RDB moves in from the network to the archive
// and the reader; at most inFlight chunks are held at once.
const (
	chunkSize = 1 << 20
	inFlight  = 8
)

// pump reads the RDB from r in chunks, writes each to the archive (w) and
// hands it to the RDB reader, which runs in its own goroutine, so that the
// network and the archive overlap with the parsing. Chunks are filled
// before they move: a handoff per network read (16 KB at a time from a
// diskless sync) costs the scheduler more than the parsing itself. It
// returns when r is drained and the reader is done, or on the first error,
// on which it calls abort to unblock r.
func pump(r io.Reader, w io.Writer, abort func()) (*rdb.Summary, error) {
	free := make(chan []byte, inFlight)
	for range inFlight {
		free <- make([]byte, chunkSize)
	}
	toReader := make(chan []byte, inFlight)
	quit := make(chan struct{})
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; close(quit); abort() })
	}
	var sum *rdb.Summary
	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		cr := &chanReader{in: toReader, free: free, quit: quit}
		var err error
		if sum, err = rdb.Scan(cr, nil); err != nil {
			fail(err)
		}
		cr.drain()
	}()
	readErr := func() error {
		for {
			var b []byte
			select {
			case b = <-free:
			case <-quit:
				return nil
			}
			n, err := fill(r, b)
			if n == 0 {
				free <- b
			} else if _, werr := w.Write(b[:n]); werr != nil {
				free <- b
				fail(&writeError{werr})
				return nil
			} else {
				toReader <- b[:n]
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}()
	close(toReader)
	<-parsed
	if readErr != nil {
		fail(&readError{readErr})
	}
	return sum, firstErr
}

// fill reads into b until it is full or r fails (io.EOF at the end).
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// chanReader is the io.Reader the RDB reader pulls the chunks through; it
// gives each chunk back once read.
type chanReader struct {
	in   <-chan []byte
	free chan<- []byte
	quit <-chan struct{}
	cur  []byte
	off  int
}

func (c *chanReader) Read(p []byte) (int, error) {
	for c.cur == nil {
		select {
		case b, ok := <-c.in:
			if !ok {
				return 0, io.EOF
			}
			c.cur, c.off = b, 0
		case <-c.quit:
			return 0, errors.New("capture stopped")
		}
	}
	n := copy(p, c.cur[c.off:])
	if c.off += n; c.off == len(c.cur) {
		c.free <- c.cur[:cap(c.cur)]
		c.cur = nil
	}
	return n, nil
}

// drain gives back every chunk the RDB reader will not read (it stopped
// at an error, or the RDB ended early), so that the pump never waits.
func (c *chanReader) drain() {
	if c.cur != nil {
		c.free <- c.cur[:cap(c.cur)]
	}
	for b := range c.in {
		c.free <- b[:cap(b)]
	}
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// captureError says which side failed: the archive's storage, the node's
// stream, or the RDB it sent.
func captureError(src Node, err error) error {
	var we *writeError
	var re *readError
	switch {
	case errors.As(err, &we):
		return storageError(we.err, "capture: write the archive")
	case errors.As(err, &re):
		return fault.Wrap(fault.Unavailable, re.err, fmt.Sprintf("capture from %s: the transfer broke off", src.Name))
	case errors.Is(err, rdb.ErrCorrupt):
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("capture from %s: its snapshot cannot be read: %v", src.Name, err))
	}
	return fault.Wrap(fault.Unavailable, err, "capture from "+src.Name)
}

// storageError names a full disk as such: it is the one storage failure an
// operator fixes without reading logs.
func storageError(err error, op string) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fault.Wrap(fault.Unavailable, err, op+": no space left on the device")
	}
	return fault.Wrap(fault.Unavailable, err, op)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return storageError(err, "sync "+dir)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return storageError(err, "sync "+dir)
	}
	return nil
}
