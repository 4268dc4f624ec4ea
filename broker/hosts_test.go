package broker

import (
	"strings"
	"testing"
)

func TestNoHostError(t *testing.T) {
	tests := []struct {
		drained, down []string
		want          []string
	}{
		{[]string{"local"}, nil, []string{"local is draining", "`larder hosts:undrain local`"}},
		{[]string{"h1", "h2"}, []string{"h3"}, []string{"h1, h2 are draining", "`larder hosts:undrain h1`, `larder hosts:undrain h2`", "h3 is unreachable"}},
		{nil, []string{"h1"}, []string{"h1 is unreachable"}},
		{nil, nil, []string{"there is no host"}},
	}
	for _, tt := range tests {
		got := noHostError(tt.drained, tt.down).Error()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("noHostError(%v, %v) = %q, want it to say %q", tt.drained, tt.down, got, w)
			}
		}
	}
}
