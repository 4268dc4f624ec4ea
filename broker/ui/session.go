package ui

// Sessions and the login limiter. A session lives in this broker's memory
// only: a restarted broker asks for the token again, which costs an operator
// one login and keeps no session secret on disk.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"
)

// session is one logged-in browser.
type session struct {
	key     string // the id's hash: the session's name in maps and waiter caps
	csrf    string // the token every form of this session carries
	expires time.Time
	flash   *flash // a message for the next page, shown once
}

// flash is a one-time message after an action (Post/Redirect/Get).
type flash struct {
	Error bool
	Text  string
}

// sessions holds the live sessions by the hash of their id: the id itself,
// the cookie's secret, is not kept.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	max int
	now func() time.Time
}

func newSessions(ttl time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, max: max, now: now}
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

// create starts a session and returns its id (for the cookie). Expired
// sessions go first; at the cap, the one nearest its end goes.
func (s *sessions) create() (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var oldest *session
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		} else if oldest == nil || v.expires.Before(oldest.expires) {
			oldest = v
		}
	}
	if len(s.m) >= s.max && oldest != nil {
		delete(s.m, oldest.key)
	}
	id := randomToken()
	ss := &session{key: hashID(id), csrf: randomToken(), expires: now.Add(s.ttl)}
	s.m[ss.key] = ss
	return id, ss
}

// get returns the live session of id, or nil.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[hashID(id)]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		delete(s.m, ss.key)
		return nil
	}
	return ss
}

// end ends a session.
func (s *sessions) end(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, ss.key)
}

// setFlash and takeFlash pass a message to the next page of a session.
func (s *sessions) setFlash(ss *session, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.flash = &f
}

func (s *sessions) takeFlash(ss *session) *flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flash
	ss.flash = nil
	return f
}

// tokensEqual compares secrets in constant time; empty never matches.
func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// limiter is a token bucket of failed logins per client address: burst
// failures at once, then one per refill. A limited address is refused before
// its token is looked at, so guessing costs time whatever it sends.
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
