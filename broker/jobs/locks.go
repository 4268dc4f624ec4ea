package jobs

import "sync"

// Locks serialise changes to one add-on's running nodes (settings,
// credentials, operations), so two requests never interleave their CONFIG
// SETs. A lock lives while someone holds or waits for it, so add-ons that
// come and go leave nothing behind. The zero value is ready to use.
type Locks struct {
	mu sync.Mutex
	m  map[string]*addonLock
}

type addonLock struct {
	sync.Mutex
	users int // holders and waiters; guarded by Locks.mu
}

// Lock takes id's lock and returns its release, to be called once.
func (l *Locks) Lock(id string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*addonLock{}
	}
	m, ok := l.m[id]
	if !ok {
		m = &addonLock{}
		l.m[id] = m
	}
	m.users++
	l.mu.Unlock()
	m.Lock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.Unlock()
			l.mu.Lock()
			if m.users--; m.users == 0 {
				delete(l.m, id)
			}
			l.mu.Unlock()
		})
	}
}

// held reports how many add-ons have a lock held or awaited (for tests).
func (l *Locks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// Held is an add-on's lock as an operation holds it: it may let it go
// while it waits, so requests on the add-on are not stuck behind it.
type Held struct {
	locks  *Locks
	ID     string // the add-on's
	unlock func()
}

// Hold takes add-on id's lock.
func (l *Locks) Hold(id string) *Held {
	return &Held{locks: l, ID: id, unlock: l.Lock(id)}
}

// Release lets the lock go.
func (h *Held) Release() { h.unlock() }

// waitUnlocked runs wait without the lock, then takes it again.
func (h *Held) waitUnlocked(wait func()) {
	h.unlock()
	wait()
	h.unlock = h.locks.Lock(h.ID)
}
