// Package atomicfile writes files so that a crash leaves either the old
// content or the new, never half of it, and keeps generated secrets (API
// tokens, passwords) in such files. Node configs, ACL files, the broker's
// token and discovery file and the agent's token all go through it.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write replaces path with data: a temp file in the same directory,
// fsynced, renamed over path, then the directory fsynced, so a crash leaves
// either the old file or the new one, never half of one.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// LoadOrCreateSecret returns the secret stored at path, or generates a random
// one (24 bytes, hex), stores it there (0600) and reports that it made it. A
// stored secret readable by others (written by hand, or by an older larder)
// is made 0600.
func LoadOrCreateSecret(path string) (secret string, made bool, err error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if t := strings.TrimSpace(string(data)); t != "" {
			if err := PrivateFile(path); err != nil {
				return "", false, err
			}
			return t, false, nil
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", false, err
	}
	secret = hex.EncodeToString(raw[:])
	if err := Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return secret, true, nil
}

// PrivateFile makes path 0600 if it exists and group or others may access
// it (a file written by hand, or by an older larder).
func PrivateFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Perm()&0o077 == 0:
		return nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	return nil
}

// PrivateDir creates dir (and its parents) 0700 if missing, and makes it
// 0700 if it exists with another mode: the directories larder writes hold
// secrets or nodes' data.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}
