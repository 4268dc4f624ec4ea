package cmdkit

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"larder/fault"
)

func TestConfirmApp(t *testing.T) {
	tests := []struct {
		name        string
		interactive bool
		stdin       string
		given       string
		wantErr     string // "" for confirmed
		wantPrompt  bool
	}{
		{"flag matches", false, "", "web", "", false},
		{"flag mismatch", false, "", "wbe", "Confirmation wbe did not match web. Aborted.", false},
		{"flag wins over stdin", true, "web\n", "nope", "Confirmation nope did not match web. Aborted.", false},
		{"no terminal, no flag", false, "web\n", "", "This will destroy it. To proceed, re-run this command with --confirm web", false},
		{"typed name", true, "web\n", "", "", true},
		{"typed with spaces", true, "  web  \r\n", "", "", true},
		{"typed without newline", true, "web", "", "", true},
		{"typed wrong", true, "prod\n", "", "Confirmation prod did not match web. Aborted.", true},
		{"nothing typed", true, "", "", "no confirmation given. Aborted.", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := ConfirmApp(strings.NewReader(tt.stdin), tt.interactive, &out, "web", tt.given, "This will destroy it")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %q, want confirmed", fault.Message(err))
			case tt.wantErr != "" && (err == nil || fault.Message(err) != tt.wantErr):
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			case err != nil && !errors.Is(err, fault.Confirmation):
				t.Errorf("got kind %v, want %v", fault.KindOf(err), fault.Confirmation)
			}
			prompted := strings.Contains(out.String(), "To proceed, type web or re-run this command with --confirm web")
			if prompted != tt.wantPrompt {
				t.Errorf("prompt shown: got %v, want %v (output %q)", prompted, tt.wantPrompt, out.String())
			}
		})
	}
}

func TestSplitDash(t *testing.T) {
	tests := []struct {
		in            []string
		before, after []string
		dash          bool
	}{
		{[]string{"a"}, []string{"a"}, nil, false},
		{[]string{"a", "--", "--x", "--"}, []string{"a"}, []string{"--x", "--"}, true},
		{[]string{"--"}, []string{}, []string{}, true},
	}
	for _, tt := range tests {
		b, a, d := SplitDash(tt.in)
		if !reflect.DeepEqual(b, tt.before) || !reflect.DeepEqual(a, tt.after) || d != tt.dash {
			t.Errorf("splitDash(%q): got %q, %q, %v; want %q, %q, %v", tt.in, b, a, d, tt.before, tt.after, tt.dash)
		}
	}
}
