package ui

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"larder/internal/testkit"
)

func TestPrintJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"empty list", NonNil([]string(nil)), "[]\n"},
		{"indented", map[string]string{"B": "2", "A": "1"}, "{\n  \"A\": \"1\",\n  \"B\": \"2\"\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.CheckOutput(t, "printJSON", func(w io.Writer) error { return PrintJSON(w, tt.v) }, tt.want)
		})
	}
}

func TestIsTerminal(t *testing.T) {
	for _, v := range []any{nil, &bytes.Buffer{}, strings.NewReader("")} {
		if IsTerminal(v) {
			t.Errorf("isTerminal(%T): got true, want false", v)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1 KB"},
		{1536, "1.5 KB"},
		{25 << 20, "25 MB"},
		{1234567, "1.2 MB"},
		{1 << 30, "1 GB"},
		{3 << 40, "3 TB"},
		{5 << 50, "5120 TB"},
	}
	for _, tt := range tests {
		if got := HumanBytes(tt.in); got != tt.want {
			t.Errorf("humanBytes(%d): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
