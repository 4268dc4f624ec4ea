package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"larder/fault"
)

// S3 keeps archives as objects under a prefix of a bucket of any
// S3-compatible store, through minio-go. Large archives go up as multipart
// uploads; an object exists only once its upload completed.
type S3 struct {
	c        *minio.Client
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string
}

var _ Target = (*S3)(nil)

// NewS3 returns a target in bucket under prefix. It does not reach the
// store: Check does.
func NewS3(bucket, prefix string, opts Options) (*S3, error) {
	if bucket == "" {
		return nil, fault.E(fault.Invalid, "backup target: s3 URLs name a bucket: s3://bucket/prefix")
	}
	if opts.Endpoint == "" {
		opts.Endpoint = "s3.amazonaws.com"
	}
	creds := credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, opts.SessionToken)
	if opts.AccessKey == "" {
		// No keys given: the environment's, else the instance's role.
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.IAM{}})
	}
	lookup := minio.BucketLookupAuto
	if opts.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(opts.Endpoint, &minio.Options{Creds: creds, Secure: !opts.Insecure, Region: opts.Region, BucketLookup: lookup})
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, fmt.Sprintf("backup target: endpoint %q: %v", truncate(opts.Endpoint), err))
	}
	if prefix != "" {
		prefix = strings.Trim(prefix, "/") + "/"
	}
	return &S3{c: c, bucket: bucket, prefix: prefix, endpoint: opts.Endpoint}, nil
}

func (s *S3) String() string {
	return fmt.Sprintf("s3://%s/%s (%s)", s.bucket, s.prefix, s.endpoint)
}

func (s *S3) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := ValidName(name); err != nil {
		return err
	}
	// Parts go up with a Content-MD5 the store checks, unsigned (over TLS
	// minio-go signs no payload anyway): the archive carries its own
	// sha256s, and per-chunk signatures are what some stores mishandle.
	opts := minio.PutObjectOptions{ContentType: "application/gzip", SendContentMd5: true, DisableContentSha256: true}
	if size < 0 {
		opts.PartSize = 64 << 20 // else minio-go buffers parts sized for 5 TiB
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+name, r, size, opts)
	if err != nil {
		return s.error(err, "store "+name)
	}
	return nil
}

func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // the request is only made here
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		return nil, s.error(err, "open "+name)
	}
	return obj, nil
}

func (s *S3) List(ctx context.Context) ([]Object, error) {
	var out []Object
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if o.Err != nil {
			return nil, s.error(o.Err, "list")
		}
		name := strings.TrimPrefix(o.Key, s.prefix)
		if ValidName(name) != nil { // a "directory", or an object not ours
			continue
		}
		out = append(out, Object{Name: name, Size: o.Size, Modified: o.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *S3) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	// Removing a missing object succeeds in S3: look first, to say so.
	if _, err := s.c.StatObject(ctx, s.bucket, s.prefix+name, minio.StatObjectOptions{}); err != nil {
		return s.error(err, "delete "+name)
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{}); err != nil {
		return s.error(err, "delete "+name)
	}
	return nil
}

func (s *S3) Check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.error(err, "check the bucket")
	}
	if !ok {
		return fault.E(fault.NotFound, "backup target %s: the bucket does not exist", s)
	}
	return nil
}

// Sweep aborts the multipart uploads under the prefix that never completed.
func (s *S3) Sweep(ctx context.Context) (int, error) {
	n := 0
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if u.Err != nil {
			return n, s.error(u.Err, "list incomplete uploads")
		}
		if err := s.c.RemoveIncompleteUpload(ctx, s.bucket, u.Key); err != nil {
			return n, s.error(err, "abort the upload of "+u.Key)
		}
		n++
	}
	return n, nil
}

// error maps the store's answers to fault kinds. The store's messages
// carry no credentials (requests are signed, keys never sent).
func (s *S3) error(err error, op string) error {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NoSuchObject":
		return fault.E(fault.NotFound, "backup target %s: %s: no such backup", s, op)
	case "NoSuchBucket":
		return fault.E(fault.NotFound, "backup target %s: %s: the bucket does not exist", s, op)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fault.Wrap(fault.Unauthorized, err, fmt.Sprintf("backup target %s: %s: the store refused the credentials (%s)", s, op, resp.Code))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("backup target %s: %s: interrupted", s, op))
	}
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("backup target %s: %s: %v", s, op, err))
}
