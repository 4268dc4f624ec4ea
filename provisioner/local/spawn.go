package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"larder/engine"
	"larder/internal/atomicfile"
	"larder/provisioner"
)

// spawn writes the node's directory and files and starts its process,
// returning once it answers PING as admin. On failure it kills the process
// and returns the tail of the node's log, without secrets.
func (h *Host) spawn(ctx context.Context, m *managed, spec provisioner.NodeSpec) (*engine.Process, error) {
	if err := atomicfile.PrivateDir(m.dir); err != nil {
		return nil, fmt.Errorf("make dir: %w", err)
	}
	if err := privateTree(m.dir); err != nil {
		return nil, fmt.Errorf("make dir: %w", err)
	}
	conf, err := engine.RenderConfig(spec, h.opts.Addr, m.dir)
	if err != nil {
		return nil, err
	}
	acl, err := engine.RenderACL(spec)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(m.dir, engine.ACLFile), acl, engine.FilePerm); err != nil {
		return nil, err
	}
	confPath := filepath.Join(m.dir, engine.ConfFile)
	if err := atomicfile.Write(confPath, conf, engine.FilePerm); err != nil {
		return nil, err
	}
	logPath, outPath := filepath.Join(m.dir, engine.LogFile), filepath.Join(m.dir, engine.OutFile)
	logOff, outOff := engine.FileSize(logPath), engine.FileSize(outPath)
	p, err := h.opts.Engine.Start(m.dir, confPath, spec.Name)
	if err != nil {
		return nil, err
	}
	err = engine.WaitReady(ctx, p, h.dialAddr(spec.Port), spec.Admin, h.opts.StartTimeout, h.opts.LoadTimeout)
	if err == nil {
		h.repause(ctx, spec)
		return p, nil
	}
	if kerr := p.Kill(); kerr != nil {
		m.log.WithError(kerr).Error("cannot kill a node that failed to start")
	}
	secrets := spec.Passwords()
	tail := engine.LogTail(outPath, outOff, 1024, secrets...)
	if t := engine.LogTail(logPath, logOff, 1024, secrets...); t != "" {
		tail = joinNonEmpty(tail, t)
	}
	if tail != "" {
		return nil, fmt.Errorf("%w; engine says: %s", err, tail)
	}
	return nil, err
}

// privateTree makes every file under dir its owner's only and every
// directory 0700: a node directory an older larder left (its engine wrote
// with the broker's umask) holds the data and the users' passwords.
func privateTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return atomicfile.PrivateDir(path)
		case d.Type().IsRegular():
			return atomicfile.PrivateFile(path)
		}
		return nil
	})
}

// findRunning returns the live process of the node in dir, from its pidfile
// or, if that is missing or stale, by its config path in /proc; nil if none
// runs.
func (h *Host) findRunning(dir string) *engine.Process {
	conf := filepath.Join(dir, engine.ConfFile)
	if pid := engine.ReadPidfile(filepath.Join(dir, engine.PidFile)); pid > 0 {
		if p, ok := engine.AdoptProcess(pid, conf); ok {
			return p
		}
	}
	if pid := FindByConf(conf); pid > 0 {
		if p, ok := engine.AdoptProcess(pid, conf); ok {
			return p
		}
	}
	return nil
}

// FindByConf scans /proc for a process whose command line names conf and
// that leads its process group, as nodes started by startChild do: an AOF
// rewrite child of the node shows the same config path but does not.
func FindByConf(conf string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if p, ok := engine.AdoptProcess(pid, conf); ok {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
				return p.PID
			}
		}
	}
	return 0
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + " | " + b
}

// dataNote tells, in an event, that a restarted node without persistence
// came back empty.
func dataNote(spec provisioner.NodeSpec) string {
	if spec.Persistence {
		return ""
	}
	return "; no persistence, so its dataset is empty"
}
