package coord

import (
	"time"

	"larder/internal/backoff"
)

// MaxRebuildBackoff caps the wait after failed standby rebuilds.
const MaxRebuildBackoff = 5 * time.Minute

// RebuildStarted marks a standby rebuild of add-on id as running.
func (c *Coordinator) RebuildStarted(id string) {
	c.mu.Lock()
	c.rebuilding[id] = true
	c.mu.Unlock()
}

// Rebuilding reports whether a standby rebuild of add-on id runs.
func (c *Coordinator) Rebuilding(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rebuilding[id]
}

// RebuildFinished records the end of add-on id's rebuild (err nil: it
// succeeded, or stopped with the broker): after a failure the next one
// waits, twice as long after each failure in a row, from StandbyGrace up to
// MaxRebuildBackoff; a success resets the wait.
func (c *Coordinator) RebuildFinished(id string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rebuilding, id)
	if err == nil {
		delete(c.rebuildFails, id)
		delete(c.rebuildAt, id)
		return
	}
	c.rebuildFails[id]++
	wait := backoff.Policy{Min: c.cfg.StandbyGrace, Max: MaxRebuildBackoff}.Delay(c.rebuildFails[id])
	c.rebuildAt[id] = c.clock.Now().Add(wait)
}

// RebuildDue reports whether add-on id's next rebuild may start.
func (c *Coordinator) RebuildDue(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.clock.Now().Before(c.rebuildAt[id])
}
