// Package target stores backup archives: in a local directory (the default,
// under the broker's data dir) or in any S3-compatible object store. A
// stored archive appears whole or not at all: an interrupted Put leaves at
// most a hidden temp file (local) or an incomplete multipart upload (S3),
// which Sweep removes.
package target

import (
	"context"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"larder/fault"
)

// Object is a stored archive.
type Object struct {
	Name     string
	Size     int64
	Modified time.Time
}

// Target is where archives are kept. Names are flat: letters, digits,
// '.', '-' and '_' (see ValidName).
type Target interface {
	// Put stores r (size bytes, or -1 when unknown) under name, replacing
	// what was there only once all of it is stored.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Open streams a stored archive; fault.NotFound when there is none.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	List(ctx context.Context) ([]Object, error)
	// Delete removes an archive; fault.NotFound when there is none.
	Delete(ctx context.Context, name string) error
	// Check makes sure the target can be used (the directory or bucket
	// exists), so that a misconfiguration shows at startup.
	Check(ctx context.Context) error
	// Sweep removes what interrupted Puts left behind. Call it when no Put
	// is running (at startup).
	Sweep(ctx context.Context) (removed int, err error)
	// String says where the target is, without credentials.
	String() string
}

// ValidName checks an archive's name.
func ValidName(name string) error {
	ok := name != "" && len(name) <= 200 && name[0] != '.'
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			ok = false
		}
	}
	if !ok {
		return fault.E(fault.Invalid, "backup name %q: use 1-200 letters, digits, '.', '-' or '_', not starting with '.'", truncate(name))
	}
	return nil
}

// Options configure an S3 target; the URL's query can set all but the
// credentials.
type Options struct {
	Endpoint     string // host[:port]; default s3.amazonaws.com
	Region       string
	AccessKey    string
	SecretKey    string
	SessionToken string
	Insecure     bool // plain HTTP instead of TLS
	PathStyle    bool // bucket in the path, not in the host name
}

// OptionsFromEnv reads LARDER_S3_ENDPOINT, LARDER_S3_REGION (or
// AWS_REGION), LARDER_S3_INSECURE, LARDER_S3_PATH_STYLE and the usual
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func OptionsFromEnv(getenv func(string) string) Options {
	o := Options{
		Endpoint: getenv("LARDER_S3_ENDPOINT"), Region: getenv("LARDER_S3_REGION"),
		AccessKey: getenv("AWS_ACCESS_KEY_ID"), SecretKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: getenv("AWS_SESSION_TOKEN"),
	}
	if o.Region == "" {
		o.Region = getenv("AWS_REGION")
	}
	o.Insecure, _ = strconv.ParseBool(getenv("LARDER_S3_INSECURE"))
	o.PathStyle, _ = strconv.ParseBool(getenv("LARDER_S3_PATH_STYLE"))
	return o
}

// Open returns the target rawURL names: a local directory (an absolute path
// or file:///path), or s3://bucket[/prefix] with optional query parameters
// endpoint, region, tls (true|false) and path-style (true|false).
// Credentials come from opts, never from the URL, which ends up in logs.
func Open(rawURL string, opts Options) (Target, error) {
	bad := func(format string, args ...any) error {
		return fault.E(fault.Invalid, "backup target: "+format, args...)
	}
	if strings.HasPrefix(rawURL, "/") {
		return NewLocal(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, bad("cannot read the URL (want /dir, file:///dir or s3://bucket/prefix)")
	}
	if u.User != nil {
		return nil, bad("credentials in the URL would show in logs: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return nil, bad("file URLs take an absolute path: file:///var/lib/larder/backups")
		}
		return NewLocal(u.Path)
	case "s3":
	default:
		return nil, bad("unknown scheme %q (want /dir, file:///dir or s3://bucket/prefix)", truncate(u.Scheme))
	}
	q := u.Query()
	for key, vals := range q {
		v := vals[len(vals)-1]
		var err error
		switch key {
		case "endpoint":
			opts.Endpoint = v
		case "region":
			opts.Region = v
		case "tls":
			var tls bool
			tls, err = strconv.ParseBool(v)
			opts.Insecure = !tls
		case "path-style":
			opts.PathStyle, err = strconv.ParseBool(v)
		default:
			return nil, bad("unknown parameter %q (endpoint, region, tls, path-style)", truncate(key))
		}
		if err != nil {
			return nil, bad("%s=%q is not true or false", key, truncate(v))
		}
	}
	return NewS3(u.Host, strings.Trim(u.Path, "/"), opts)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
