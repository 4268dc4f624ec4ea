package api

import (
	"strings"
	"sync"
	"testing"
)

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // nil: an error
		errHas   string
	}{
		{"one", "http://127.0.0.1:7480", []string{"http://127.0.0.1:7480"}, ""},
		{"trailing slash dropped", "http://a:7480/", []string{"http://a:7480"}, ""},
		{"a path prefix kept", "https://lb.example.com/larder/", []string{"https://lb.example.com/larder"}, ""},
		{"two, spaces trimmed", "http://a:7480, https://b:7480", []string{"http://a:7480", "https://b:7480"}, ""},
		{"empty", "", nil, "it is empty"},
		{"empty element", "http://a:7480,,http://b:7480", nil, "element 2 of 3: it is empty"},
		{"trailing comma", "http://a:7480,", nil, "element 2 of 2: it is empty"},
		{"blank element", "http://a:7480, ", nil, "element 2 of 2: it is empty"},
		{"no scheme", "a:7480", nil, "not a URL of the form http://HOST:PORT"},
		{"no host", "http://", nil, "not a URL of the form"},
		{"other scheme", "http://a:7480,redis://b:6379", nil, `element 2 of 2: scheme "redis" is not http or https`},
		{"credentials", "http://a:7480,http://admin:hunter2@b:7480", nil, "http://…@b:7480 carries credentials"},
		{"user only", "https://tok3n@b:7480", nil, "carries credentials"},
		{"credentials, unparsable", "http://admin:hunter2@b:7480/%zz", nil, "not a URL"},
		{"query", "http://a:7480/?token=hunter2", nil, "has a query or fragment"},
		{"fragment", "http://a:7480/#x", nil, "has a query or fragment"},
		{"twice", "http://a:7480,http://a:7480/", nil, "http://a:7480 is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEndpoints(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseEndpoints(%q) = %v, want an error with %q", tt.in, e.URLs(), tt.errHas)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q, want it to contain %q", err, tt.errHas)
				}
				for _, secret := range []string{"hunter2", "tok3n", "admin"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q repeats a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEndpoints(%q): %v", tt.in, err)
			}
			if got := e.URLs(); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if i, u := e.Current(); i != 0 || u != tt.want[0] {
				t.Errorf("current %d %s, want the first", i, u)
			}
		})
	}
}

// TestEndpointsFailedMovesOnce: a failure moves to the next URL and wraps
// around; a failure of a URL that is no longer current changes nothing, so
// several requests failing on one broker at once skip it only.
func TestEndpointsFailedMovesOnce(t *testing.T) {
	e, err := ParseEndpoints("http://a,http://b,http://c")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		failed int
		want   string
	}{
		{0, "http://b"},
		{0, "http://b"}, // a late failure of a: still b
		{1, "http://c"},
		{2, "http://a"}, // wraps around
		{1, "http://a"},
	}
	for _, s := range steps {
		e.Failed(s.failed)
		if _, got := e.Current(); got != s.want {
			t.Fatalf("after Failed(%d): %s, want %s", s.failed, got, s.want)
		}
	}

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); e.Failed(0) }()
	}
	wg.Wait()
	if _, got := e.Current(); got != "http://b" {
		t.Errorf("50 concurrent failures of a: %s, want http://b", got)
	}
}
