package rediscmd

import (
	"io"
	"testing"
	"time"

	"larder/api"
	"larder/internal/testkit"
)

func TestWriteRedisInfos(t *testing.T) {
	live := api.RedisInfo{
		Addon: api.Ref{Name: "redis-swift-12345"}, ConfigVars: []string{"REDIS_URL", "LARDER_REDIS_AMBER_URL"},
		Plan: "larder-redis:premium-0", Status: "available", CreatedAt: time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC),
		Engine: "valkey", Version: "8.0.2",
		Settings:    api.Settings{MaxMemoryPolicy: "allkeys-lru", Timeout: 300, NotifyKeyspaceEvents: "AKE"},
		Persistence: "AOF", HAStatus: "Available",
		MemoryUsedBytes: 1234567, MemoryLimitBytes: 50 << 20, Clients: 3, ClientsLimit: 40, Live: true,
	}
	down := api.RedisInfo{
		Addon: api.Ref{Name: "redis-a"}, Plan: "larder-redis:mini", Status: "unavailable",
		Settings: api.Settings{MaxMemoryPolicy: "noeviction"}, Persistence: "None", HAStatus: "n/a",
		LiveError: "dial tcp 127.0.0.1:21001: connect: connection refused",
	}
	want := "" +
		"=== redis-swift-12345 (REDIS_URL, LARDER_REDIS_AMBER_URL)\n\n" +
		"Plan:                   larder-redis:premium-0\n" +
		"Status:                 available\n" +
		"Created:                2026-01-02 15:04 UTC\n" +
		"Version:                valkey 8.0.2\n" +
		"Timeout:                300\n" +
		"Maxmemory:              allkeys-lru\n" +
		"Keyspace Notifications: AKE\n" +
		"Persistence:            AOF\n" +
		"HA Status:              Available\n" +
		"Memory:                 1.2 MB / 50 MB\n" +
		"Clients:                3 / 40\n" +
		"\n" +
		"=== redis-a\n\n" +
		"Plan:                   larder-redis:mini\n" +
		"Status:                 unavailable\n" +
		"Created:\n" +
		"Version:\n" +
		"Timeout:                0\n" +
		"Maxmemory:              noeviction\n" +
		"Keyspace Notifications: Disabled\n" +
		"Persistence:            None\n" +
		"HA Status:              n/a\n" +
		"Live Figures:           unavailable: dial tcp 127.0.0.1:21001: connect: connection refused\n"
	testkit.CheckOutput(t, "redis:info", func(w io.Writer) error { return writeRedisInfos(w, []api.RedisInfo{live, down}) }, want)
	testkit.CheckOutput(t, "redis:info with no add-ons", func(w io.Writer) error { return writeRedisInfos(w, nil) }, "")
}
