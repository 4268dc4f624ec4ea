package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// LogLine is one line of an app's logs (`larder logs`): a line of one of its
// add-ons' nodes, or one of larder's events about an add-on.
type LogLine struct {
	At         time.Time `json:"at"`
	Source     string    `json:"source"`     // LogSourceRedis or LogSourceLarder
	Attachment string    `json:"attachment"` // the add-on's name on the app: REDIS
	Addon      string    `json:"addon"`      // redis-curved-41235
	Role       string    `json:"role,omitempty"`
	Host       string    `json:"host,omitempty"`
	Text       string    `json:"text"`
}

// Log sources, what `larder logs -s` filters on.
const (
	LogSourceRedis  = "redis"  // the nodes' own logs
	LogSourceLarder = "larder" // larder's events about the add-ons
)

// Bounds of a logs read: the lines a first read returns (Heroku's).
const (
	DefaultLogLines = 100
	MaxLogLines     = 1500
)

// Process names where a line comes from, in Heroku's brackets: the
// attachment, and a standby's role after a dot (REDIS, REDIS.standby).
func (l LogLine) Process() string {
	if l.Role != "" && l.Role != "primary" {
		return l.Attachment + "." + l.Role
	}
	return l.Attachment
}

// String is the line in Heroku's format:
// `2026-12-05T19:00:00+00:00 redis[REDIS]: * Ready to accept connections`.
func (l LogLine) String() string {
	return l.At.UTC().Format("2006-01-02T15:04:05-07:00") + " " + l.Source + "[" + l.Process() + "]: " + l.Text
}

// LogBatch answers a logs read: lines oldest first, and the cursor to read
// the lines after them.
type LogBatch struct {
	Lines  []LogLine `json:"lines"`
	Cursor string    `json:"cursor"`
}

// LogQuery is a logs read. Without a Cursor it returns the last Lines lines
// (0: DefaultLogLines); with one, the lines after it, waiting up to Wait for
// one. Source "" is every source.
type LogQuery struct {
	Lines  int
	Source string
	Cursor string
	Wait   time.Duration
}

// Logs reads app's logs.
func (c *Client) Logs(ctx context.Context, app string, q LogQuery) (LogBatch, error) {
	v := url.Values{}
	if q.Lines != 0 {
		v.Set("lines", strconv.Itoa(q.Lines))
	}
	if q.Source != "" {
		v.Set("source", q.Source)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	var out LogBatch
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/logs?"+v.Encode(), nil, &out)
}
