package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"

	"larder/fault"
)

// ErrCorrupt is wrapped by every error that says a backup itself is bad: an
// archive that is truncated or fails its checksums, a manifest that does
// not describe its data, data the engine refuses to load. Other errors (a
// full disk, an engine that cannot start) say nothing about the backup.
var ErrCorrupt = errors.New("the backup is corrupt")

func corrupt(format string, args ...any) error {
	return fault.Wrap(fault.Invalid, ErrCorrupt, fmt.Sprintf(format, args...))
}

// The archive is a gzip-compressed tar of dump.rdb then manifest.json, which
// `tar xzf` extracts. Its first 535 bytes are a gzip member of their own
// holding dump.rdb's tar header uncompressed: the RDB's size is only known
// once it has streamed past, so the capture writes a placeholder there and
// rewrites it at the end (gzip readers take concatenated members as one
// stream). The rest is a second member: the RDB, the manifest, the tar end.
const headerMemberSize = 10 + 5 + 512 + 8

// storedMember wraps a 512-byte block in a gzip member made of one stored
// (uncompressed) deflate block, so its size never depends on its content.
func storedMember(block []byte) []byte {
	n := len(block)
	b := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff} // gzip header, no name, no time
	b = append(b, 0x01, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	b = append(b, block...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(block))
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}

// tarHeader renders a regular file's tar header block.
func tarHeader(name string, size int64, mod time.Time) ([]byte, error) {
	format := tar.FormatUSTAR
	if size >= 1<<33 { // USTAR's octal size field stops at 8 GiB
		format = tar.FormatGNU
	}
	var buf bytes.Buffer
	err := tar.NewWriter(&buf).WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600,
		Size: size, ModTime: mod.UTC().Truncate(time.Second), Format: format})
	if err != nil || buf.Len() != 512 {
		return nil, fmt.Errorf("tar header for %s: %v (%d bytes)", name, err, buf.Len())
	}
	return buf.Bytes(), nil
}

// archiveWriter streams an archive into a file: Write takes the RDB's bytes,
// finish the manifest.
type archiveWriter struct {
	f    *os.File
	bw   *bufio.Writer
	gz   *gzip.Writer
	size int64
	sum  hash.Hash
}

func newArchiveWriter(f *os.File, level int) (*archiveWriter, error) {
	placeholder, err := tarHeader(RDBFile, 0, time.Unix(0, 0))
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(storedMember(placeholder)); err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	gz, err := gzip.NewWriterLevel(bw, level)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, fmt.Sprintf("compression level %d", level))
	}
	return &archiveWriter{f: f, bw: bw, gz: gz, sum: sha256.New()}, nil
}

func (a *archiveWriter) Write(p []byte) (int, error) {
	a.sum.Write(p)
	n, err := a.gz.Write(p)
	a.size += int64(n)
	return n, err
}

// rdbFile is the manifest entry of the RDB written so far.
func (a *archiveWriter) rdbFile() File {
	return File{Name: RDBFile, Size: a.size, SHA256: hex.EncodeToString(a.sum.Sum(nil))}
}

// finish pads the RDB, appends the manifest and the tar end, and rewrites
// the RDB's header with its size. The caller syncs and closes the file.
func (a *archiveWriter) finish(manifest []byte, mod time.Time) error {
	pad := make([]byte, 1024)
	hdr, err := tarHeader(ManifestFile, int64(len(manifest)), mod)
	if err != nil {
		return err
	}
	for _, part := range [][]byte{pad[:padding(a.size)], hdr, manifest, pad[:padding(int64(len(manifest)))], pad} {
		if _, err := a.gz.Write(part); err != nil {
			return err
		}
	}
	if err := a.gz.Close(); err != nil {
		return err
	}
	if err := a.bw.Flush(); err != nil {
		return err
	}
	rdbHdr, err := tarHeader(RDBFile, a.size, mod)
	if err != nil {
		return err
	}
	_, err = a.f.WriteAt(storedMember(rdbHdr), 0)
	return err
}

// padding is what fills a tar entry of size n to a whole 512-byte block.
func padding(n int64) int64 { return (512 - n%512) % 512 }

// unpack reads a whole archive, writes its dump.rdb into dir (0600; dir ""
// writes it nowhere) and checks every file's size and sha256 against the
// manifest. Whatever fails, no dump.rdb is left in dir.
func unpack(r io.Reader, dir string) (m *Manifest, err error) {
	gz, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, corrupt("archive: not a gzip stream: %v", err)
	}
	var (
		rdbPath string
		got     *File
	)
	defer func() {
		if err != nil && rdbPath != "" {
			os.Remove(rdbPath)
		}
	}()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, corrupt("archive: %v (truncated or damaged)", err)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, corrupt("archive: unexpected entry %q of type %q", truncate(h.Name), h.Typeflag)
		}
		switch {
		case h.Name == RDBFile && got == nil:
			if dir != "" {
				rdbPath = filepath.Join(dir, RDBFile)
			}
			f, err := writeChecked(tr, rdbPath)
			if err != nil {
				return nil, err
			}
			got = &f
		case h.Name == ManifestFile && m == nil:
			data, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
			if err != nil {
				return nil, corrupt("archive: %s: %v (truncated or damaged)", ManifestFile, err)
			}
			if len(data) > maxManifest {
				return nil, corrupt("archive: %s is larger than %d bytes", ManifestFile, maxManifest)
			}
			if m, err = parseManifest(data); err != nil {
				return nil, corrupt("archive: %s", fault.Message(err))
			}
		default:
			return nil, corrupt("archive: unexpected entry %q", truncate(h.Name))
		}
	}
	// The gzip trailers (CRC-32 and size) are only checked at the very end.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, corrupt("archive: %v (truncated or damaged)", err)
	}
	switch {
	case m == nil:
		return nil, corrupt("archive: no %s", ManifestFile)
	case got == nil:
		return nil, corrupt("archive: no %s", RDBFile)
	}
	want, _ := m.file(RDBFile)
	if got.Size != want.Size || got.SHA256 != want.SHA256 {
		return nil, corrupt("archive: %s has %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s",
			RDBFile, got.Size, got.SHA256, want.Size, want.SHA256)
	}
	return m, nil
}

// unpackTemp unpacks an archive into a new directory in parent (named
// prefix…) and returns it with the manifest; the caller removes the
// directory, which is gone already when unpackTemp fails.
func unpackTemp(archive io.Reader, parent, prefix string) (dir string, m *Manifest, err error) {
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, storageError(err, "make a scratch directory")
	}
	if m, err = unpack(archive, dir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, m, nil
}

// writeChecked copies r into a new file at path (nowhere when path is "")
// and returns its size and sha256.
func writeChecked(r io.Reader, path string) (File, error) {
	sum := sha256.New()
	var w io.Writer = sum
	var f *os.File
	if path != "" {
		var err error
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return File{}, fault.Wrap(fault.Unavailable, err, "unpack "+RDBFile)
		}
		defer f.Close()
		w = io.MultiWriter(f, sum)
	}
	n, err := io.Copy(w, r)
	var pe *os.PathError
	switch {
	case errors.As(err, &pe):
		return File{}, fault.Wrap(fault.Unavailable, err, "unpack "+RDBFile)
	case err != nil:
		return File{}, corrupt("archive: %s: %v (truncated or damaged)", RDBFile, err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return File{}, fault.Wrap(fault.Unavailable, err, "unpack "+RDBFile)
		}
	}
	return File{Name: RDBFile, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

// Check reads a whole archive and checks it against its manifest, writing
// nothing: what a download or a restore is sure of before it goes on.
func Check(r io.Reader) (*Manifest, error) { return unpack(r, "") }
