package store

import (
	"context"
	"time"
)

// DashboardSession is a logged-in browser of the dashboard (broker/ui). It
// is kept by the hash of its id, never the id: the id is the cookie's
// secret, and whoever reads the store must not be able to log in with it.
// Every broker on the store serves every session.
type DashboardSession struct {
	Key     string    // the hash of the session's id
	CSRF    string    // the token every form of the session carries
	Expires time.Time // to the microsecond
	Flash   Flash     // the message for the session's next page; zero when none
}

// Flash is a one-time message for a session's next page.
type Flash struct {
	Kind string // FlashInfo or FlashError; "" when there is none
	Text string
}

// The kinds of flash messages.
const (
	FlashInfo  = "info"
	FlashError = "error"
)

// SessionRepo holds the dashboard's sessions. Its writes are not in the
// change feed and run no commit hooks (no app changed); they need no
// coordinator lease (any broker logs a browser in). now is the caller's
// clock, so a session's expiry is the dashboard's (tests move it).
type SessionRepo interface {
	// CreateSession records s, in one transaction that first drops the
	// sessions expired at now and, when max sessions or more are left, the
	// ones nearest their end down to max-1. A session needs its key, CSRF
	// token and an expiry after now (Invalid otherwise, nothing written); a
	// key taken is a Conflict.
	CreateSession(ctx context.Context, s DashboardSession, now time.Time, max int) error
	// GetSession returns the session of key live at now; one absent or
	// expired is NotFound.
	GetSession(ctx context.Context, key string, now time.Time) (DashboardSession, error)
	// EndSession deletes the session of key; one absent is no error.
	EndSession(ctx context.Context, key string) error
	// SetSessionFlash sets the session's message for its next page (in
	// place of any other); an absent session is NotFound.
	SetSessionFlash(ctx context.Context, key string, f Flash) error
	// TakeSessionFlash returns the session's message and clears it, at
	// once: of two takes at the same time, on any brokers, one gets the
	// message and the other none. No message (or no session) is the zero
	// Flash.
	TakeSessionFlash(ctx context.Context, key string) (Flash, error)
}
