package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/internal/atomicfile"
	"larder/provisioner"
)

// quarantineStamp ends the name of a quarantined node directory: when it
// was moved there, in UTC.
const quarantineStamp = "20060102T150405Z"

// Quarantine stops a node larder believes it no longer needs (an orphan the
// store positively does not know) and moves its directory, data included,
// to the host's quarantine folder as <name>-<UTC time>, where it stays for
// QuarantineRetention before the host deletes it. larder's own conclusions
// never delete data outright: if one was wrong, the node's files are still
// there to bring back. The process is stopped gracefully (SIGTERM), so its
// AOF is complete. A node with no directory is nothing to keep.
func (h *Host) Quarantine(ctx context.Context, spec provisioner.NodeSpec) error {
	if !engine.SafeName(spec.Name) {
		return fault.E(fault.Invalid, "quarantine node: bad name %q", engine.Truncate(spec.Name, 80))
	}
	if err := h.halt(spec, true); err != nil {
		return fmt.Errorf("quarantine node %s: %w", spec.Name, err)
	}
	dir := h.NodeDir(spec)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	dst := filepath.Join(h.opts.QuarantineDir, spec.Name+"-"+h.opts.Now().UTC().Format(quarantineStamp))
	if err := os.Rename(dir, dst); err != nil {
		return fmt.Errorf("quarantine node %s: %w", spec.Name, err)
	}
	h.log.WithFields(logrus.Fields{"node": spec.Name, "to": dst, "kept": h.opts.QuarantineRetention}).
		Warn("node stopped and moved to quarantine")
	return nil
}

// halt stops a node's process, whether supervised or only known by its
// directory (after a restart of the host, before adoption): gracefully, or
// with SIGKILL at once when its data is about to be deleted anyway.
func (h *Host) halt(spec provisioner.NodeSpec, graceful bool) error {
	err := h.stop(spec.ID, graceful)
	if !errors.Is(err, fault.NotFound) {
		return err
	}
	if p := h.findRunning(h.NodeDir(spec)); p != nil {
		return h.end(p, graceful)
	}
	return nil
}

// prepareQuarantine makes the quarantine folder (0700: it holds nodes'
// data and passwords).
func (h *Host) prepareQuarantine() error {
	if err := atomicfile.PrivateDir(h.opts.QuarantineDir); err != nil {
		return fmt.Errorf("quarantine dir: %w", err)
	}
	return nil
}

// purgeQuarantine deletes quarantined node directories older than
// QuarantineRetention. Entries whose name carries no time it wrote are not
// its to delete.
func (h *Host) purgeQuarantine() {
	entries, err := os.ReadDir(h.opts.QuarantineDir)
	if err != nil {
		h.log.WithError(err).Warn("read quarantine")
		return
	}
	now := h.opts.Now()
	for _, e := range entries {
		i := strings.LastIndexByte(e.Name(), '-')
		if i < 0 || !e.IsDir() {
			continue
		}
		at, err := time.Parse(quarantineStamp, e.Name()[i+1:])
		if err != nil || now.Sub(at) < h.opts.QuarantineRetention {
			continue
		}
		path := filepath.Join(h.opts.QuarantineDir, e.Name())
		if err := os.RemoveAll(path); err != nil {
			h.log.WithError(err).WithField("path", path).Warn("purge quarantined node")
			continue
		}
		h.log.WithField("path", path).Info("quarantined node purged after its retention")
	}
}
