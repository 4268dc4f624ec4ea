package jobs

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

// Points are the named places in operations where a test makes the broker
// crash or wait (fault injection, like Sentinel's SIMULATE-FAILURE): tests
// of recovery from the store, and of two coordinators' role changes started
// at the same instant.
type Points struct {
	// CrashAt names the point where the broker exits at once.
	CrashAt string
	// HoldAt names a point where the broker waits while the file
	// HoldDir/held-POINT exists.
	HoldAt, HoldDir string
	Log             logrus.FieldLogger
}

// CrashPoint exits the process when CrashAt names this point.
func (p Points) CrashPoint(name string) {
	if p.CrashAt == name {
		p.Log.WithField("point", name).Error("crashing on purpose (--crash-at)")
		os.Exit(3)
	}
}

// HoldPoint waits at a named point while HoldDir/held-NAME exists, when
// HoldAt names this point (tests line two coordinators up at one step, then
// let them go together). It creates the file on arrival and waits at most a
// minute.
func (p Points) HoldPoint(ctx context.Context, name string) {
	if p.HoldAt != name || p.HoldDir == "" {
		return
	}
	path := filepath.Join(p.HoldDir, "held-"+name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		p.Log.WithError(err).Error("hold point")
		return
	}
	p.Log.WithField("point", name).Warn("holding on purpose (--hold-at) until " + path + " is removed")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; {
		if _, err := os.Stat(path); err != nil {
			return
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}
