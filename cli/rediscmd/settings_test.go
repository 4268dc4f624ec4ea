package rediscmd

import (
	"io"
	"testing"

	"larder/internal/testkit"
)

func TestWriteSettings(t *testing.T) {
	const label = "redis-swift-12345 (REDIS_URL)"
	tests := []struct {
		name  string
		write func(io.Writer) error
		want  string
	}{
		{"maxmemory", func(w io.Writer) error { return writeMaxmemory(w, label, "noeviction") },
			"Maxmemory policy for redis-swift-12345 (REDIS_URL) set to noeviction.\nnoeviction return errors when memory limit is reached.\n"},
		{"maxmemory lru", func(w io.Writer) error { return writeMaxmemory(w, label, "allkeys-lru") },
			"Maxmemory policy for redis-swift-12345 (REDIS_URL) set to allkeys-lru.\nallkeys-lru evict any key, least recently used first.\n"},
		{"timeout off", func(w io.Writer) error { return writeTimeout(w, label, 0) },
			"Timeout for redis-swift-12345 (REDIS_URL) set to 0 seconds.\nConnections to the Redis instance can idle indefinitely.\n"},
		{"timeout", func(w io.Writer) error { return writeTimeout(w, label, 300) },
			"Timeout for redis-swift-12345 (REDIS_URL) set to 300 seconds.\nConnections to the Redis instance will be stopped after idling for 300 seconds.\n"},
		{"keyspace", func(w io.Writer) error { return writeKeyspaceNotifications(w, label, "KEA") },
			"Keyspace notifications for redis-swift-12345 (REDIS_URL) set to 'KEA'.\n"},
		{"keyspace off", func(w io.Writer) error { return writeKeyspaceNotifications(w, label, "") },
			"Keyspace notifications for redis-swift-12345 (REDIS_URL) set to ''.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testkit.CheckOutput(t, tt.name, tt.write, tt.want) })
	}
}

func TestParseTimeout(t *testing.T) {
	tests := []struct {
		text    string
		given   bool
		want    int
		wantErr bool
	}{
		{"300", true, 300, false},
		{"0", true, 0, false},
		{" 60 ", true, 60, false},
		{"", false, 0, true},
		{"", true, 0, true},
		{"-1", true, 0, true},
		{"1.5", true, 0, true},
		{"abc", true, 0, true},
		{"99999999999999999999", true, 0, true},
	}
	for _, tt := range tests {
		got, err := parseTimeout(tt.text, tt.given, "usage")
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseTimeout(%q, %v): got %d, %v; want %d, error %v", tt.text, tt.given, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckKeyspaceFlags(t *testing.T) {
	tests := []struct {
		flags   string
		given   bool
		wantErr bool
	}{
		{"KEA", true, false},
		{"Kx", true, false},
		{"KEg$lshzxetmdnA", true, false},
		{"", true, false}, // turns notifications off
		{"", false, true},
		{"KEQ", true, true},
		{"K E", true, true},
		{"kea", true, true}, // the letters are case sensitive
		{"Kℓ", true, true},
	}
	for _, tt := range tests {
		if err := checkKeyspaceFlags(tt.flags, tt.given, "usage"); (err != nil) != tt.wantErr {
			t.Errorf("checkKeyspaceFlags(%q, %v): got %v, want error %v", tt.flags, tt.given, err, tt.wantErr)
		}
	}
}
