package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// LogLine is one line of a node's log (LogFile), its time read from the
// line itself.
type LogLine struct {
	At   time.Time `json:"at"`   // zero when the line carries no time
	Text string    `json:"text"` // after the engine's time stamp: "* Ready to accept connections"
}

// MaxLogLine bounds one line's text; a longer line is cut, marked "…".
const MaxLogLine = 4 << 10

// LogChunk is what one read of a node's log found.
type LogChunk struct {
	Lines []LogLine `json:"lines"`
	// Next is the offset to read from next time: after the last whole line
	// read (a line still being written is left for later).
	Next int64 `json:"next"`
	// Reset says the log is not the one the offset was in (it is shorter:
	// replaced or cut), so it was read from its start.
	Reset bool `json:"reset,omitempty"`
}

// ReadLog reads the whole lines of the log at path after offset from, at
// most limit bytes of it, with every secret replaced by "[redacted]". A
// negative from reads the last limit bytes (from the first line that starts
// in them). A missing log has no lines yet.
func ReadLog(path string, from int64, limit int, secrets ...string) (LogChunk, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return LogChunk{Lines: []LogLine{}, Reset: from > 0}, nil
	}
	if err != nil {
		return LogChunk{}, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return LogChunk{}, fmt.Errorf("stat log: %w", err)
	}
	size := fi.Size()
	out := LogChunk{Lines: []LogLine{}}
	tail := from < 0
	switch {
	case tail:
		from = max(0, size-int64(limit))
	case from > size:
		from, out.Reset = 0, true
	}
	buf := make([]byte, min(int64(limit), size-from))
	n, err := f.ReadAt(buf, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return LogChunk{}, fmt.Errorf("read log: %w", err)
	}
	buf = buf[:n]
	start := 0
	if tail && from > 0 { // the first line began before the window
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			start = i + 1
		} else {
			start = len(buf)
		}
	}
	end := bytes.LastIndexByte(buf, '\n') + 1
	if end <= start && len(buf) == limit && !tail {
		end = len(buf) // one line longer than limit: taken as it is, cut
	}
	if end < start {
		end = start
	}
	for _, raw := range strings.Split(string(buf[start:end]), "\n") {
		raw = strings.TrimRight(raw, "\r")
		if raw == "" {
			continue
		}
		out.Lines = append(out.Lines, ParseLogLine(Redact(raw, secrets...)))
	}
	out.Next = from + int64(end)
	return out, nil
}

// logTimeLayout is how the engine stamps its lines, in the host's zone:
// "12345:M 05 Dec 2026 19:00:00.123 * Ready to accept connections".
const logTimeLayout = "02 Jan 2006 15:04:05.000"

// ParseLogLine splits a line of the engine's log into its time and its text
// (the level mark and message). A line in another shape is kept whole,
// without a time.
func ParseLogLine(raw string) LogLine {
	line := LogLine{Text: Truncate(raw, MaxLogLine)}
	pid, rest, ok := strings.Cut(raw, ":")
	if !ok || pid == "" || strings.Trim(pid, "0123456789") != "" || len(rest) < 2+len(logTimeLayout) || rest[1] != ' ' {
		return line
	}
	stamp := rest[2 : 2+len(logTimeLayout)]
	at, err := time.ParseInLocation(logTimeLayout, stamp, time.Local)
	if err != nil {
		return line
	}
	line.At = at
	line.Text = Truncate(strings.TrimSpace(rest[2+len(logTimeLayout):]), MaxLogLine)
	return line
}

// Redact replaces every secret in text by "[redacted]".
func Redact(text string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	return text
}
