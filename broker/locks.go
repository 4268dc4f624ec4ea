package broker

import "sync"

// addonLocks serialise changes to one add-on's running nodes (settings,
// credentials), so two requests never interleave their CONFIG SETs. A lock
// lives while someone holds or waits for it, so add-ons that come and go
// leave nothing behind.
type addonLocks struct {
	mu sync.Mutex
	m  map[string]*addonLock
}

type addonLock struct {
	sync.Mutex
	users int // holders and waiters; guarded by addonLocks.mu
}

// lock takes id's lock and returns its release, to be called once.
func (l *addonLocks) lock(id string) func() {
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
func (l *addonLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
