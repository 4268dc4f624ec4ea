package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAssignments(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantSet  map[string]string
		wantKeys []string
		wantErr  string
	}{
		{"one", []string{"FOO=bar"}, map[string]string{"FOO": "bar"}, []string{"FOO"}, ""},
		{"value with =", []string{"DSN=a=b=c"}, map[string]string{"DSN": "a=b=c"}, []string{"DSN"}, ""},
		{"empty value", []string{"FOO="}, map[string]string{"FOO": ""}, []string{"FOO"}, ""},
		{"spaces kept", []string{"G=hello world"}, map[string]string{"G": "hello world"}, []string{"G"}, ""},
		{"later wins, order kept", []string{"B=1", "A=2", "B=3"}, map[string]string{"A": "2", "B": "3"}, []string{"B", "A"}, ""},
		{"underscore start", []string{"_X1=y"}, map[string]string{"_X1": "y"}, []string{"_X1"}, ""},
		{"none", nil, nil, nil, "no config vars given"},
		{"no =", []string{"FOO"}, nil, nil, `"FOO" is not KEY=VALUE`},
		{"empty name", []string{"=bar"}, nil, nil, `invalid config var name ""`},
		{"digit first", []string{"1FOO=x"}, nil, nil, `invalid config var name "1FOO"`},
		{"dash", []string{"MY-VAR=x"}, nil, nil, `invalid config var name "MY-VAR"`},
		{"space", []string{"MY VAR=x"}, nil, nil, `invalid config var name "MY VAR"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, keys, err := parseAssignments(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(errMessage(err), tt.wantErr) {
					t.Errorf("parseAssignments(%q): got error %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(set, tt.wantSet) || !reflect.DeepEqual(keys, tt.wantKeys) {
				t.Errorf("parseAssignments(%q): got %v, %q, %v; want %v, %q", tt.args, set, keys, err, tt.wantSet, tt.wantKeys)
			}
		})
	}
}

func FuzzParseAssignments(f *testing.F) {
	f.Add("FOO=bar")
	f.Add("1X=y")
	f.Fuzz(func(t *testing.T, arg string) {
		set, _, err := parseAssignments([]string{arg})
		if err != nil {
			return
		}
		for k, v := range set {
			if !varName().MatchString(k) || k+"="+v != arg {
				t.Errorf("parseAssignments(%q): got %q=%q", arg, k, v)
			}
		}
	})
}
