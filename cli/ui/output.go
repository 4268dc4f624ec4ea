// Package ui is how larder's command line shows things: a spinner for slow
// steps, Heroku-style tables and `Key: value` blocks, stable JSON for
// scripts, and the units sizes and times are shown in. It writes to the
// writers it is given and knows nothing of the broker.
package ui

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"larder/internal/httpjson"
)

// PrintJSON prints v indented, the stable form scripts read.
// The bytes are the broker API's own (encoding/json's rules, by the JSON
// v2 encoder): encoding/json's MarshalIndent took half a second over
// `larder addons --json` of 10 000 add-ons.
func PrintJSON(w io.Writer, v any) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := httpjson.EncodeTo(bw, v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return bw.Flush()
}

// NonNil makes an empty list print as [] rather than null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// IsTerminal reports whether v is a terminal. It checks for a character
// device, which is portable and needs no ioctl; /dev/null is one too, but
// nobody types into it.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// HumanBytes shows a size in binary units: 512 B, 1.5 KB, 25 MB, 1 GB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/unit, 0
	for v >= unit && u < 3 {
		v /= unit
		u++
	}
	s := fmt.Sprintf("%.1f", v)
	if s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + []string{"KB", "MB", "GB", "TB"}[u]
}

// FormatTime shows a time the way redis:info's Created row does, in UTC so
// that output does not depend on the machine.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
