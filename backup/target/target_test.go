package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"larder/backup/internal/fixture"
	"larder/fault"
)

var testKeys = Options{AccessKey: "test-key", SecretKey: "test-secret"}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Both targets behave alike: whole archives in, the same bytes out,
// listed by name, deleted, and "not found" said as such.
func TestTargets(t *testing.T) {
	endpoint := fixture.FakeS3(t)
	for _, tc := range []struct {
		name string
		url  string
	}{
		{"local directory", filepath.Join(t.TempDir(), "backups")},
		{"s3", fixture.S3URL(endpoint, "backups")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			tg, err := Open(tc.url, testKeys)
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.Check(ctx); err != nil {
				t.Fatalf("Check() = %v", err)
			}
			small, large := []byte("a small archive"), randomBytes(20<<20) // large: a multipart upload on S3
			for name, data := range map[string][]byte{"b-1.tar.gz": small, "b-2.tar.gz": large} {
				if err := tg.Put(ctx, name, bytes.NewReader(data), int64(len(data))); err != nil {
					t.Fatalf("Put(%s) = %v", name, err)
				}
			}
			if err := tg.Put(ctx, "b-1.tar.gz", bytes.NewReader(small), -1); err != nil { // replace, size unknown
				t.Fatalf("Put(replace) = %v", err)
			}
			objs, err := tg.List(ctx)
			if err != nil || len(objs) != 2 || objs[0].Name != "b-1.tar.gz" || objs[1].Name != "b-2.tar.gz" ||
				objs[0].Size != int64(len(small)) || objs[1].Size != int64(len(large)) || objs[1].Modified.IsZero() {
				t.Fatalf("List() = %+v, %v", objs, err)
			}
			r, err := tg.Open(ctx, "b-2.tar.gz")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, large) {
				t.Fatalf("Open() read %d bytes (%v), want the %d stored", len(got), err, len(large))
			}
			if err := tg.Delete(ctx, "b-2.tar.gz"); err != nil {
				t.Fatalf("Delete() = %v", err)
			}
			for op, err := range map[string]error{
				"Open":   func() error { _, err := tg.Open(ctx, "b-2.tar.gz"); return err }(),
				"Delete": tg.Delete(ctx, "b-2.tar.gz"),
			} {
				if fault.KindOf(err) != fault.NotFound {
					t.Errorf("%s(deleted) = %v, want not found", op, err)
				}
			}
			for _, name := range []string{"", ".hidden", "a/b", "../x", strings.Repeat("x", 201)} {
				if err := tg.Put(ctx, name, bytes.NewReader(small), -1); fault.KindOf(err) != fault.Invalid {
					t.Errorf("Put(%q) = %v, want invalid", name, err)
				}
			}
			if objs, _ := tg.List(ctx); len(objs) != 1 {
				t.Errorf("List() = %+v after the refusals, want b-1 alone", objs)
			}
		})
	}
}

// An interrupted Put stores nothing, and Sweep removes what it left.
func TestInterruptedPuts(t *testing.T) {
	ctx := context.Background()
	t.Run("local directory", func(t *testing.T) {
		dir := t.TempDir()
		tg, _ := NewLocal(dir)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := tg.Put(cctx, "b.tar.gz", bytes.NewReader(randomBytes(1000)), 1000); err == nil {
			t.Error("Put(canceled) = nil, want an error")
		}
		if err := tg.Put(ctx, "b.tar.gz", bytes.NewReader(randomBytes(10)), 1000); fault.KindOf(err) != fault.Invalid {
			t.Errorf("Put(short) = %v, want invalid", err)
		}
		fixture.Empty(t, dir, "failed Puts")
		// What a crash leaves: a temp file of a Put and one of a capture.
		for _, name := range []string{".b.tar.gz.tmp-123", ".b.tar.gz.partial-456"} {
			os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600)
		}
		os.WriteFile(filepath.Join(dir, "kept.tar.gz"), []byte("whole"), 0o600)
		if n, err := tg.Sweep(ctx); n != 2 || err != nil {
			t.Errorf("Sweep() = %d, %v; want 2 removed", n, err)
		}
		if objs, _ := tg.List(ctx); len(objs) != 1 || objs[0].Name != "kept.tar.gz" {
			t.Errorf("List() after Sweep = %+v", objs)
		}
	})
	t.Run("s3", func(t *testing.T) {
		endpoint := fixture.FakeS3(t)
		tg, err := Open(fixture.S3URL(endpoint, "backups"), testKeys)
		if err != nil {
			t.Fatal(err)
		}
		core, err := minio.NewCore(endpoint, &minio.Options{Creds: credentials.NewStaticV4(testKeys.AccessKey, testKeys.SecretKey, ""),
			BucketLookup: minio.BucketLookupPath})
		if err != nil {
			t.Fatal(err)
		}
		// What a crash mid-upload leaves: a multipart upload never completed.
		if _, err := core.NewMultipartUpload(ctx, "backups", "larder/prod/b.tar.gz", minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if n, err := tg.Sweep(ctx); n != 1 || err != nil {
			t.Errorf("Sweep() = %d, %v; want 1 upload aborted", n, err)
		}
		for u := range tg.(*S3).c.ListIncompleteUploads(ctx, "backups", "larder/", true) {
			t.Errorf("upload %s is still there (%v)", u.Key, u.Err)
		}
		if objs, _ := tg.List(ctx); len(objs) != 0 {
			t.Errorf("List() = %+v, want nothing", objs)
		}
	})
}

func TestLocalPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	tg, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Put(context.Background(), "b.tar.gz", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "b.tar.gz"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("mode of %s = %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
}

// A full disk fails a Put with a clear error and leaves nothing.
func TestLocalFullDisk(t *testing.T) {
	dir := fixture.SmallDisk(t)
	tg, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Put(context.Background(), "b.tar.gz", bytes.NewReader(randomBytes(2<<20)), 2<<20)
	if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "no space left on the device") {
		t.Fatalf("Put() = %v, want unavailable: no space left", err)
	}
	fixture.Empty(t, dir, "a Put on a full disk")
}

func TestS3Errors(t *testing.T) {
	endpoint := fixture.FakeS3(t)
	ctx := context.Background()
	tg, err := Open(fixture.S3URL(endpoint, "missing"), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Check(ctx); fault.KindOf(err) != fault.NotFound || !strings.Contains(err.Error(), "bucket does not exist") {
		t.Errorf("Check(missing bucket) = %v, want not found", err)
	}
	down, _ := Open(fixture.S3URL("127.0.0.1:1", "backups"), testKeys)
	cctx, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	err = down.Put(cctx, "b.tar.gz", strings.NewReader("x"), 1)
	if fault.KindOf(err) != fault.Unavailable || strings.Contains(err.Error(), testKeys.SecretKey) {
		t.Errorf("Put(unreachable) = %v, want unavailable without the secret", err)
	}
}

func TestOpen(t *testing.T) {
	tmp := t.TempDir()
	for _, tc := range []struct {
		url     string
		want    string // String() of the target, or the error
		wantErr bool
	}{
		{url: tmp + "/backups", want: tmp + "/backups"},
		{url: "file://" + tmp + "/other/", want: tmp + "/other"},
		{url: "s3://bucket", want: "s3://bucket/ (s3.amazonaws.com)"},
		{url: "s3://bucket/a/b/?endpoint=minio:9000&tls=false&region=eu-west-1&path-style=true", want: "s3://bucket/a/b/ (minio:9000)"},
		{url: "s3://AKIA:topsecret@bucket/x", want: "credentials in the URL would show in logs", wantErr: true},
		{url: "s3:///prefix", want: "s3 URLs name a bucket", wantErr: true},
		{url: "s3://bucket?tls=maybe", want: `tls="maybe" is not true or false`, wantErr: true},
		{url: "s3://bucket?secret=x", want: `unknown parameter "secret"`, wantErr: true},
		{url: "ftp://host/x", want: `unknown scheme "ftp"`, wantErr: true},
		{url: "relative/dir", want: `unknown scheme ""`, wantErr: true},
		{url: "file://host/x", want: "file URLs take an absolute path", wantErr: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			tg, err := Open(tc.url, Options{})
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), tc.want) || fault.KindOf(err) != fault.Invalid):
				t.Errorf("Open() error = %v, want invalid saying %q", err, tc.want)
			case tc.wantErr && strings.Contains(err.Error(), "topsecret"):
				t.Errorf("Open() error %q holds the secret", err)
			case !tc.wantErr && (err != nil || tg.String() != tc.want):
				t.Errorf("Open() = %v, %v; want %q", tg, err, tc.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	for _, s := range []string{"s3://b/p?endpoint=h:1&tls=false", "s3://u:pw@b", "file:///x", "ftp://x", "s3://b?%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "file:") {
			return // local targets make directories
		}
		tg, err := Open(raw, Options{})
		if err != nil {
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("Open(%q) error %v is not invalid", raw, err)
			}
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(err.Error(), pw) {
					t.Fatalf("Open(%q) error %q holds the password", raw, err)
				}
			}
			return
		}
		if _, ok := tg.(*S3); !ok {
			t.Fatalf("Open(%q) = %T", raw, tg)
		}
	})
}
