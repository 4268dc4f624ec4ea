package ui

// Sessions and the login limiter. Sessions live in the store, so every
// broker on it serves every session (behind a load balancer a browser's
// next request may reach any broker) and a broker's restart logs nobody
// out. The store keeps a session by the hash of its id: the id, the
// cookie's secret, is in the browser only.
//
// The login limiter stays in each broker's memory: it counts the failed
// logins an address made through this broker, so behind n brokers an
// address may fail n times as often. It only slows guessing down (a token
// is 32 random bytes), and counting in the store would cost a write per
// failure.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"larder/fault"
	"larder/store"
)

// Sessions is where the dashboard keeps its sessions (the broker's store;
// see store.SessionRepo).
type Sessions interface {
	CreateSession(ctx context.Context, s store.DashboardSession, now time.Time, max int) error
	GetSession(ctx context.Context, key string, now time.Time) (store.DashboardSession, error)
	EndSession(ctx context.Context, key string) error
	SetSessionFlash(ctx context.Context, key string, f store.Flash) error
	TakeSessionFlash(ctx context.Context, key string) (store.Flash, error)
}

// session is one logged-in browser, as a request read it.
type session struct {
	key   string // the id's hash: the session's name in the store and waiter caps
	csrf  string // the token every form of this session carries
	flash bool   // a message for the next page was waiting when it was read
}

// flash is a one-time message after an action (Post/Redirect/Get).
type flash struct {
	Error bool
	Text  string
}

// sessions reads and writes the sessions in the store, by the hash of
// their id.
type sessions struct {
	repo Sessions
	ttl  time.Duration
	max  int
	now  func() time.Time
}

// randomToken is 32 random bytes, hex-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on a broken source)
	return hex.EncodeToString(b)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create starts a session and returns its id (for the cookie). The store
// drops the expired sessions first and, at the cap, the one nearest its
// end.
func (s *sessions) create(ctx context.Context) (string, error) {
	id := randomToken()
	now := s.now()
	err := s.repo.CreateSession(ctx, store.DashboardSession{Key: hashID(id), CSRF: randomToken(), Expires: now.Add(s.ttl)}, now, s.max)
	if err != nil {
		return "", err
	}
	return id, nil
}

// get returns the live session of id, or nil (and an error only when the
// store could not tell).
func (s *sessions) get(ctx context.Context, id string) (*session, error) {
	if id == "" {
		return nil, nil
	}
	ss, err := s.repo.GetSession(ctx, hashID(id), s.now())
	if errors.Is(err, fault.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &session{key: ss.Key, csrf: ss.CSRF, flash: ss.Flash != (store.Flash{})}, nil
}

// end ends a session, on every broker.
func (s *sessions) end(ctx context.Context, ss *session) error {
	return s.repo.EndSession(ctx, ss.key)
}

// setFlash and takeFlash pass a message to the next page of a session,
// whichever broker serves it; a message is shown once.
func (s *sessions) setFlash(ctx context.Context, ss *session, f flash) error {
	kind := store.FlashInfo
	if f.Error {
		kind = store.FlashError
	}
	return s.repo.SetSessionFlash(ctx, ss.key, store.Flash{Kind: kind, Text: f.Text})
}

// takeFlash asks the store only when the session had a message when read.
func (s *sessions) takeFlash(ctx context.Context, ss *session) (*flash, error) {
	if !ss.flash {
		return nil, nil
	}
	f, err := s.repo.TakeSessionFlash(ctx, ss.key)
	if err != nil || f == (store.Flash{}) {
		return nil, err
	}
	return &flash{Error: f.Kind == store.FlashError, Text: f.Text}, nil
}

// tokensEqual compares secrets in constant time; empty never matches.
func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// limiter is a token bucket of failed logins per client address, in this
// broker's memory (see above): burst failures at once, then one per
// refill. A limited address is refused before its token is looked at, so
// guessing costs time whatever it sends.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	burst   float64
	refill  time.Duration
	now     func() time.Time
}

type bucket struct {
	left float64
	at   time.Time
}

// maxBuckets bounds the limiter's memory; full buckets are the first to go.
const maxBuckets = 10000

func newLimiter(burst int, refill time.Duration, now func() time.Time) *limiter {
	return &limiter{buckets: map[string]*bucket{}, burst: float64(burst), refill: refill, now: now}
}

// level refills addr's bucket to now and returns it (nil: full).
func (l *limiter) level(addr string) *bucket {
	b := l.buckets[addr]
	if b == nil {
		return nil
	}
	now := l.now()
	b.left = min(l.burst, b.left+float64(now.Sub(b.at))/float64(l.refill))
	b.at = now
	if b.left >= l.burst {
		delete(l.buckets, addr)
		return nil
	}
	return b
}

// wait reports how long addr must wait before its next login attempt (0:
// it may try now).
func (l *limiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.level(addr)
	if b == nil || b.left >= 1 {
		return 0
	}
	return time.Duration((1-b.left)*float64(l.refill)).Round(time.Second) + time.Second
}

// fail counts a failed login of addr.
func (l *limiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.level(addr)
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			// Full: one address's count goes (any; this only bounds memory).
			for k := range l.buckets {
				delete(l.buckets, k)
				break
			}
		}
		b = &bucket{left: l.burst, at: l.now()}
		l.buckets[addr] = b
	}
	b.left = max(0, b.left-1)
}
