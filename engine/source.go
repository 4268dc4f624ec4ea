package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
)

// Source is a server an add-on forks from or follows: another larder add-on,
// or any Redis-compatible server reached with its URL's credentials.
type Source struct {
	Endpoint
	User       User   // Name "" authenticates with the password alone (the default user)
	TLS        bool   // rediss://
	SkipVerify bool   // rediss only: accept any certificate (Heroku's self-signed chain)
	Label      string // how messages name it: the URL with its password masked
}

// String is the source's label: never its password.
func (s Source) String() string { return s.Label }

const defaultRedisPort = 6379

// sourceURLHint is what every refusal of a source URL tells the user to type.
const sourceURLHint = "use redis://USER:PASSWORD@HOST:PORT (rediss:// for TLS)"

// sourceName names a fork source in an error as far as it can without its
// password: the scheme, user and host of a redis:// URL, else nothing of it
// (a string that is not such a URL may hold a password anywhere).
func sourceName(u *url.URL, err error) string {
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Opaque != "" {
		return "the fork source URL"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host}
	user := ""
	if u.User != nil {
		user = u.User.Username() + ":***@"
	}
	return fmt.Sprintf("the fork source %s", Truncate(r.Scheme+"://"+user+r.Host, 120))
}

// ParseSourceURL reads a redis:// or rediss:// URL with a password. Its
// errors never quote the URL: it holds a password.
func ParseSourceURL(raw string) (Source, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	name := sourceName(u, err)
	bad := func(why string) error {
		return fault.E(fault.Invalid, "%s %s; %s", name, why, sourceURLHint)
	}
	if err != nil {
		return Source{}, bad("cannot be parsed")
	}
	var s Source
	switch u.Scheme {
	case "redis":
	case "rediss":
		s.TLS = true
	default:
		return Source{}, bad("must start with redis:// or rediss://")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return Source{}, bad("has no host")
	}
	s.Addr = u.Hostname()
	s.Port = defaultRedisPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Source{}, bad("has a port out of range")
		}
		s.Port = n
	}
	if u.User == nil {
		return Source{}, bad("has no password")
	}
	s.User.Name = u.User.Username()
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return Source{}, bad("has no password")
	}
	s.User.Password = pw
	for _, v := range []string{s.Addr, s.User.Name, s.User.Password} {
		if strings.ContainsAny(v, "\x00\r\n\t ") || len(v) > 512 {
			return Source{}, bad("holds a space or a control character in its host, user or password")
		}
	}
	if path := strings.Trim(u.Path, "/"); path != "" {
		// A database number is accepted for compatibility; every database is copied.
		if n, err := strconv.Atoi(path); err != nil || n < 0 || n > 15 {
			return Source{}, bad("has a path; only a database number may follow the host")
		}
	}
	for k, vs := range u.Query() {
		v := strings.ToLower(strings.Join(vs, ""))
		switch {
		case k == "skip_verify" && (v == "true" || v == "1"), k == "ssl_cert_reqs" && (v == "none" || v == "cert_none"):
			s.SkipVerify = true
		case k == "skip_verify" || k == "ssl_cert_reqs":
		default:
			return Source{}, bad(fmt.Sprintf("has an unknown parameter %q (known: skip_verify=true, ssl_cert_reqs=none)", Truncate(k, 40)))
		}
	}
	if s.SkipVerify && !s.TLS {
		return Source{}, bad("asks to skip certificate checks without TLS")
	}
	s.Label = fmt.Sprintf("%s://%s:***@%s", u.Scheme, s.User.Name, s.Endpoint)
	return s, nil
}

// client is a go-redis client of the source's database db. It speaks RESP2
// (the probe needs it, and older servers know nothing else).
func (s Source) client(db int, timeout time.Duration) *redis.Client {
	opt := &redis.Options{
		Addr: s.Endpoint.String(), Username: s.User.Name, Password: s.User.Password, DB: db, Protocol: 2,
		DialTimeout: 3 * time.Second, ReadTimeout: timeout, WriteTimeout: timeout,
		PoolSize: 2, MaxRetries: -1, DisableIdentity: true,
	}
	if s.TLS {
		// Managed services often present self-signed certificates (Heroku's
		// do): the URL's skip_verify=true accepts them, as their docs advise.
		opt.TLSConfig = &tls.Config{ServerName: s.Addr, InsecureSkipVerify: s.SkipVerify, MinVersion: tls.VersionTLS12}
	}
	return redis.NewClient(opt)
}

// SourceInfo is what InspectSource learns about a source.
type SourceInfo struct {
	Version         string
	Role            string // master or slave
	UsedMemoryBytes int64
	Keys            int64 // over every database
	DBs             []int // the databases holding keys
	ReplOffset      int64 // master_repl_offset

	// SyncAllowed: the source lets its user replicate (PSYNC or SYNC).
	// SyncKnown is false when that could not be told without starting a
	// sync; the fork then tries and falls back if the sync does not start.
	SyncAllowed bool
	SyncKnown   bool
	SyncRefusal string // the source's own words when it refused
}

// InspectSource connects to a source with its credentials and reads its
// version, data size and keys, and whether it allows replication. Its errors
// say what is wrong (unreachable, wrong password, no INFO right) without
// quoting a password.
func InspectSource(ctx context.Context, s Source) (SourceInfo, error) {
	c := s.client(0, 5*time.Second)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return SourceInfo{}, sourceError(s, err)
	}
	text, err := c.Info(ctx).Result()
	if err != nil {
		if isNoPerm(err) {
			return SourceInfo{}, fault.E(fault.Invalid, "%s: its user may not run INFO, which larder needs to check that the data fits", s)
		}
		return SourceInfo{}, sourceError(s, err)
	}
	info := parseSourceInfo(text)
	info.SyncAllowed, info.SyncKnown, info.SyncRefusal = probeSync(ctx, s)
	return info, nil
}

func parseSourceInfo(text string) SourceInfo {
	in := ParseInfo(text)
	info := SourceInfo{Version: in.Version, Role: in.Repl.Role, UsedMemoryBytes: in.UsedMemoryBytes, ReplOffset: in.Repl.MasterOffset}
	for _, d := range in.Keyspace {
		// Only the databases every engine has by default can be copied.
		if d.DB < 16 && d.Keys > 0 {
			info.Keys += d.Keys
			info.DBs = append(info.DBs, d.DB)
		}
	}
	return info
}

// probeChannel is subscribed to by probeSync; nobody publishes on it.
const probeChannel = "__larder_sync_probe__"

// probeSync tells whether the source's user may run PSYNC or SYNC without
// starting a sync: in RESP2, a subscribed connection may only run the
// subscribe commands, and the engine checks ACLs before that rule. So a
// permitted PSYNC answers "only … allowed in this context", a denied one
// NOPERM, and a renamed or disabled one "unknown command" (as on many managed
// services). When the probe cannot subscribe (no channel rights), known is
// false.
func probeSync(ctx context.Context, s Source) (allowed, known bool, refusal string) {
	c := s.client(0, 3*time.Second)
	defer c.Close() // also drops the connection if a sync ever began on it
	conn := c.Conn()
	defer conn.Close()
	if err := conn.Do(ctx, "SUBSCRIBE", probeChannel).Err(); err != nil {
		return false, false, ""
	}
	for _, cmd := range [][]any{{"PSYNC", "?", "-1"}, {"SYNC"}} {
		err := conn.Do(ctx, cmd...).Err()
		if err == nil || strings.Contains(err.Error(), "in this context") {
			return true, true, ""
		}
		if !isRedisError(err) {
			return false, false, ""
		}
		if refusal == "" {
			refusal = firstLine(err.Error())
		}
	}
	return false, true, refusal
}

// SourceOffset reads the source's replication offset, to measure a
// follower's lag.
func SourceOffset(ctx context.Context, s Source) (int64, error) {
	c := s.client(0, 2*time.Second)
	defer c.Close()
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, sourceError(s, err)
	}
	return ParseInfo(text).Repl.MasterOffset, nil
}

// sourceError says why a source could not be used, in words a user acts on.
func sourceError(s Source, err error) error {
	msg := err.Error()
	var nerr net.Error
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"), strings.Contains(msg, "invalid username-password"):
		return fault.E(fault.Invalid, "%s refused the credentials: wrong user or password", s)
	case strings.Contains(msg, "NOAUTH"):
		return fault.E(fault.Invalid, "%s asks for a password the URL does not give", s)
	case isNoPerm(err):
		return fault.E(fault.Invalid, "%s: its user lacks a right larder needs (%s)", s, firstLine(msg))
	case errors.As(err, &cert):
		return fault.Wrap(fault.Invalid, err, fmt.Sprintf("%s: its TLS certificate is not trusted; add ?skip_verify=true to the URL to accept it anyway", s))
	case errors.As(err, &dns):
		return fault.Wrap(fault.Invalid, err, fmt.Sprintf("%s: unknown host %s", s, s.Addr))
	case errors.Is(err, syscall.ECONNREFUSED):
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("cannot reach %s: connection refused", s))
	case errors.As(err, &nerr) && nerr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("cannot reach %s: timed out", s))
	case isRedisError(err):
		return fault.E(fault.Invalid, "%s answered with an error: %s", s, Truncate(firstLine(msg), 120))
	}
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("cannot reach %s", s))
}

func isNoPerm(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }

// isRedisError reports whether err is the server's error reply rather than a
// network failure.
func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && err != redis.Nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
