package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"larder/backup/target"
)

// Job is one backup to take: what the broker's backup operation hands over.
type Job struct {
	Name   string // the archive's name in the target (target.ValidName)
	Source Node   // the standby when there is one, else the primary
	Meta   Meta
	Target target.Target
	// StageDir holds the archive while it is captured and verified (room
	// for the archive, and for Verify's scratch node: twice the RDB more).
	StageDir string
	Capture  CaptureOptions
	Verify   VerifyOptions
	// Staged, when set, is called once the archive is staged, before it
	// is verified and stored (the broker's fault-injection point there).
	Staged func()
}

// Result is what Take did.
type Result struct {
	Manifest *Manifest
	Size     int64         // the archive's size
	Captured time.Duration // the capture alone
	// Verified is nil when the verification failed: VerifyErr says why.
	// errors.Is(VerifyErr, ErrCorrupt) means the backup is bad; any other
	// error, that it could not be verified now. The archive is stored
	// either way (retention never counts it as a verified backup).
	Verified  *Verified
	VerifyErr error
}

// Take captures a backup into the stage directory, verifies it there,
// stores it in the target and removes the staged copy. An error means
// nothing was stored; a failed verification is not an error (see Result).
func Take(ctx context.Context, job Job) (*Result, error) {
	if err := target.ValidName(job.Name); err != nil {
		return nil, err
	}
	staged := filepath.Join(job.StageDir, stagePrefix+job.Name)
	start := time.Now()
	m, err := Capture(ctx, job.Source, job.Meta, staged, job.Capture)
	if err != nil {
		return nil, err
	}
	defer os.Remove(staged)
	res := &Result{Manifest: m, Captured: time.Since(start)}
	if job.Staged != nil {
		job.Staged()
	}
	if job.Verify.Dir == "" {
		job.Verify.Dir = job.StageDir
	}
	f, err := os.Open(staged)
	if err != nil {
		return nil, storageError(err, "open the staged archive")
	}
	defer f.Close()
	res.Verified, res.VerifyErr = Verify(ctx, f, job.Verify)
	fi, err := f.Stat()
	if err != nil {
		return nil, storageError(err, "open the staged archive")
	}
	res.Size = fi.Size()
	if _, err := f.Seek(0, 0); err != nil {
		return nil, storageError(err, "open the staged archive")
	}
	if err := job.Target.Put(ctx, job.Name, f, res.Size); err != nil {
		return nil, err
	}
	return res, nil
}

// stagePrefix names staged archives: hidden, so that a stage directory
// shared with a local target never lists them as backups.
const stagePrefix = ".larder-stage-"

// SweepStage removes what interrupted captures, verifications and restores
// left in a stage directory (staged archives, scratch directories), and
// nothing else: call it at startup, before any Take runs.
func SweepStage(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, storageError(err, "sweep "+dir)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		leftover := strings.HasPrefix(name, stagePrefix) || strings.HasPrefix(name, "larder-verify-") ||
			strings.HasPrefix(name, "larder-restore-") || strings.HasPrefix(name, ".") && strings.Contains(name, ".partial-")
		if !leftover {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return n, storageError(err, "sweep "+dir)
		}
		n++
	}
	return n, nil
}
