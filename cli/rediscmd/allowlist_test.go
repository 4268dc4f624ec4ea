package rediscmd

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"larder/api"
	"larder/internal/testkit"
)

func TestAllowlistOutput(t *testing.T) {
	acc := api.EdgeAccess{Allowlist: []string{"127.0.0.0/8", "203.0.113.0/24"}, TLSOnly: true}
	testkit.CheckOutput(t, "list", func(w io.Writer) error { return writeAllowlist(w, acc) }, "127.0.0.0/8\n203.0.113.0/24\n")
	tests := []struct {
		acc  api.EdgeAccess
		want string
	}{
		{api.EdgeAccess{Default: true}, "Networks allowed to connect to X (the default: loopback and private networks):"},
		{acc, "Networks allowed to connect to X; TLS connections only:"},
	}
	for _, tt := range tests {
		if got := allowlistHeading("X", tt.acc); got != tt.want {
			t.Errorf("heading = %q, want %q", got, tt.want)
		}
	}
}

func TestCredentialsOutput(t *testing.T) {
	cred := api.Credentials{Addon: api.Ref{Name: "redis-a"}, URL: "redis://u:p@h:1", TLSURL: "rediss://u:p@h:2", CAPath: "/d/ca/ca.crt", CACert: "PEM\n"}
	tests := []struct {
		name           string
		tls, ca        bool
		cred           api.Credentials
		stdout, stderr string
		err            string
	}{
		{"plain", false, false, cred, "redis://u:p@h:1\n", "--cacert /d/ca/ca.crt", ""},
		{"tls", true, false, cred, "rediss://u:p@h:2\n", "", ""},
		{"ca", false, true, cred, "PEM\n", "", ""},
		{"no edge", true, false, api.Credentials{Addon: cred.Addon, URL: cred.URL}, "", "", "has no TLS URL"},
		{"operator cert", false, true, api.Credentials{Addon: cred.Addon, URL: cred.URL, TLSURL: cred.TLSURL}, "", "", "operator's certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			err := writeCredentials(&out, &errw, tt.cred, tt.tls, tt.ca, false)
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) || tt.err == "" && err != nil {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if out.String() != tt.stdout || !strings.Contains(errw.String(), tt.stderr) {
				t.Errorf("stdout %q stderr %q; want %q and %q", out.String(), errw.String(), tt.stdout, tt.stderr)
			}
		})
	}
}
