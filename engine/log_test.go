package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseLogLine(t *testing.T) {
	for _, tc := range []struct {
		raw, text string
		at        time.Time
	}{
		{"23652:M 06 Dec 2026 09:08:43.923 * Ready to accept connections", "* Ready to accept connections",
			time.Date(2026, 12, 6, 9, 8, 43, 923e6, time.Local)},
		{"7:C 01 Jan 2027 00:00:00.000 # Configuration loaded", "# Configuration loaded", time.Date(2027, 1, 1, 0, 0, 0, 0, time.Local)},
		{"                _._", "                _._", time.Time{}},
		{"x:M 06 Dec 2026 09:08:43.923 * no pid", "x:M 06 Dec 2026 09:08:43.923 * no pid", time.Time{}},
		{"12:M not a time at all, but long enough", "12:M not a time at all, but long enough", time.Time{}},
		{"12:", "12:", time.Time{}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got := ParseLogLine(tc.raw)
			if got.Text != tc.text || !got.At.Equal(tc.at) {
				t.Errorf("ParseLogLine() = %v %q, want %v %q", got.At, got.Text, tc.at, tc.text)
			}
		})
	}
}

func TestReadLog(t *testing.T) {
	const content = "1:M 06 Dec 2026 09:00:00.000 * one\n" +
		"1:M 06 Dec 2026 09:00:01.000 * two s3cret\n" +
		"1:M 06 Dec 2026 09:00:02.000 * thr" // still being written
	path := filepath.Join(t.TempDir(), LogFile)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	second := int64(strings.Index(content, "1:M 06 Dec 2026 09:00:01"))
	whole := int64(strings.LastIndex(content, "\n") + 1)
	for _, tc := range []struct {
		name  string
		from  int64
		limit int
		want  []string
		next  int64
		reset bool
	}{
		{"from the start", 0, 1 << 10, []string{"* one", "* two [redacted]"}, whole, false},
		{"bounded", 0, int(second) + 3, []string{"* one"}, second, false},
		{"from an offset", second, 1 << 10, []string{"* two [redacted]"}, whole, false},
		{"at the end", whole, 1 << 10, nil, whole, false},
		{"the tail starts at a whole line", -1, int(int64(len(content))-second) + 5, []string{"* two [redacted]"}, whole, false},
		{"a tail larger than the log", -1, 1 << 10, []string{"* one", "* two [redacted]"}, whole, false},
		{"past the end: the log was replaced", 1 << 20, 1 << 10, []string{"* one", "* two [redacted]"}, whole, true},
		{"a line longer than the limit is cut", 0, 10, []string{"1:M 06 Dec"}, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLog(path, tc.from, tc.limit, "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, l := range got.Lines {
				texts = append(texts, l.Text)
			}
			if strings.Join(texts, "|") != strings.Join(tc.want, "|") || got.Next != tc.next || got.Reset != tc.reset {
				t.Errorf("ReadLog(%d, %d) = %q next %d reset %v, want %q next %d reset %v",
					tc.from, tc.limit, texts, got.Next, got.Reset, tc.want, tc.next, tc.reset)
			}
		})
	}
	missing, err := ReadLog(filepath.Join(t.TempDir(), LogFile), 0, 10)
	if err != nil || len(missing.Lines) != 0 || missing.Next != 0 {
		t.Errorf("ReadLog(missing) = %+v, %v; want no lines at 0", missing, err)
	}
}
