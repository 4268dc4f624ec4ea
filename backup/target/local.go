package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"larder/fault"
)

// Local keeps archives in a directory: 0700, its files 0600, each written
// to a hidden temp file, fsynced, then renamed into place.
type Local struct{ dir string }

var _ Target = (*Local)(nil)

// tmpMarker is in the name of every temp file a Put writes.
const tmpMarker = ".tmp-"

// NewLocal returns a target in dir, made (0700) if missing.
func NewLocal(dir string) (*Local, error) {
	if !filepath.IsAbs(dir) {
		return nil, fault.E(fault.Invalid, "backup directory %q must be an absolute path", truncate(dir))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, storageError(err, "make the backup directory "+dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, storageError(err, "restrict the backup directory "+dir)
	}
	return &Local{dir: filepath.Clean(dir)}, nil
}

// Dir is the directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) String() string { return l.dir }

// Put writes r to a temp file next to the archive, syncs it and renames it
// into place, so the archive is whole or absent, even across a crash.
func (l *Local) Put(ctx context.Context, name string, r io.Reader, size int64) (err error) {
	if err := ValidName(name); err != nil {
		return err
	}
	f, err := os.CreateTemp(l.dir, "."+name+tmpMarker+"*")
	if err != nil {
		return storageError(err, "store "+name)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return storageError(err, "store "+name)
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return storageError(err, "store "+name)
	}
	if size >= 0 && n != size {
		return fault.E(fault.Invalid, "store %s: got %d bytes, expected %d", name, n, size)
	}
	if err := f.Sync(); err != nil {
		return storageError(err, "store "+name)
	}
	if err := f.Close(); err != nil {
		return storageError(err, "store "+name)
	}
	if err := os.Rename(f.Name(), filepath.Join(l.dir, name)); err != nil {
		return storageError(err, "store "+name)
	}
	return l.syncDir()
}

func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(l.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fault.E(fault.NotFound, "no backup %s in %s", name, l.dir)
	}
	if err != nil {
		return nil, storageError(err, "open "+name)
	}
	return f, nil
}

func (l *Local) List(ctx context.Context) ([]Object, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, storageError(err, "list "+l.dir)
	}
	var out []Object
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, Object{Name: e.Name(), Size: fi.Size(), Modified: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (l *Local) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(l.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return fault.E(fault.NotFound, "no backup %s in %s", name, l.dir)
	}
	if err != nil {
		return storageError(err, "delete "+name)
	}
	return l.syncDir()
}

func (l *Local) Check(ctx context.Context) error {
	fi, err := os.Stat(l.dir)
	if err != nil {
		return storageError(err, "backup directory")
	}
	if !fi.IsDir() {
		return fault.E(fault.Invalid, "backup directory %s is not a directory", l.dir)
	}
	return nil
}

// Sweep removes the temp files of interrupted Puts and of interrupted
// captures written here (any hidden file with ".tmp-" or ".partial-").
func (l *Local) Sweep(ctx context.Context) (int, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return 0, storageError(err, "sweep "+l.dir)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".") || !(strings.Contains(name, tmpMarker) || strings.Contains(name, ".partial-")) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(l.dir, name)); err != nil {
			return n, storageError(err, "sweep "+l.dir)
		}
		n++
	}
	return n, nil
}

func (l *Local) syncDir() error {
	d, err := os.Open(l.dir)
	if err != nil {
		return storageError(err, "sync "+l.dir)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return storageError(err, "sync "+l.dir)
	}
	return nil
}

// storageError names a full disk as such.
func storageError(err error, op string) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fault.Wrap(fault.Unavailable, err, op+": no space left on the device")
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("%s: %v", op, err))
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
