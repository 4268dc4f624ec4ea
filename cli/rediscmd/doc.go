// Package rediscmd holds the redis:* commands that act on one Redis add-on of
// an app (`larder redis:info`, `redis:maxmemory`, `redis:failover`, …), one
// command per file. The add-on is the one the command names, or the app's
// default Redis (cmdkit.Session.ResolveRedis); redis:cli's session is
// package rediscli.
package rediscmd
