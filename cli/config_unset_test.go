package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseUnset(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"FOO", "BAR"}, ""},
		{nil, "no config vars given"},
		{[]string{"FOO=bar"}, `invalid config var name "FOO=bar"`},
	}
	for _, tt := range tests {
		got, err := parseUnset(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(errMessage(err), tt.wantErr) {
				t.Errorf("parseUnset(%q): got error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.args) {
			t.Errorf("parseUnset(%q): got %q, %v", tt.args, got, err)
		}
	}
}
