package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"larder/fault"
	"larder/internal/testkit"
)

// counter is a broker stand-in on loopback that counts what reached it.
type counter struct {
	URL  string
	hits atomic.Int64
	took *atomic.Int64 // a hanging broker's connections, in place of hits
}

// count is how many requests (or, hanging, connections) reached it.
func (c *counter) count() int64 {
	if c.took != nil {
		return c.took.Load()
	}
	return c.hits.Load()
}

// newServer serves answer on loopback and counts requests.
func newServer(t *testing.T, answer http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// liveBroker answers every request 200 with a JSON object naming itself.
func liveBroker(t *testing.T) *counter {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"live","url":%q}`, r.URL.Path)
	})
}

// deadURL is a loopback port nobody listens on: connections are refused.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// hangingBroker accepts connections and reads requests but never answers;
// it counts the connections it took.
func hangingBroker(t *testing.T) *counter {
	t.Helper()
	h := testkit.NewHanging(t)
	return &counter{URL: h.URL, took: &h.Took}
}

// statusBroker answers every request with status, as JSON from a broker
// (stopping or not) or as a proxy's plain text page.
func statusBroker(t *testing.T, status int, kind string) *counter {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch kind {
		case "proxy":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			io.WriteString(w, "<html>no healthy upstream</html>")
			return
		case "stopping":
			w.Header().Set(StoppingHeader, "true")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"id":"unavailable","message":"from the first broker: %d"}`, status)
	})
}

// TestClientMovesToTheNextBroker: with a first broker that is dead, hangs,
// answers like a proxy with no backend, or is stopping, a request goes to
// the second broker when sending it again is safe, and stays on the first
// broker's failure when it may have been done there. A broker's own answer,
// even an error, is the result. Once a broker answers, later requests go
// straight to it.
func TestClientMovesToTheNextBroker(t *testing.T) {
	type first func(t *testing.T) (url string, hits func() int64)
	server := func(mk func(*testing.T) *counter) first {
		return func(t *testing.T) (string, func() int64) { c := mk(t); return c.URL, c.count }
	}
	dead := func(t *testing.T) (string, func() int64) { return deadURL(t), func() int64 { return 0 } }
	hanging := server(hangingBroker)
	withStatus := func(status int, kind string) first {
		return server(func(t *testing.T) *counter { return statusBroker(t, status, kind) })
	}
	get := func(ctx context.Context, c *Client) error { return c.Do(ctx, http.MethodGet, "/apps", nil, nil) }
	post := func(ctx context.Context, c *Client) error {
		return c.Do(ctx, http.MethodPost, "/apps", AppCreate{Name: "web"}, nil)
	}
	register := func(ctx context.Context, c *Client) error {
		_, err := c.RegisterHost(ctx, HostRegister{Name: "h1", URL: "http://10.0.0.5:7481", Token: "t"})
		return err
	}
	tests := []struct {
		name     string
		first    first
		req      func(context.Context, *Client) error
		moved    bool   // the second broker answered it
		firstGot bool   // the request reached the first one
		errHas   string // when it did not move
	}{
		{"dead, GET", dead, get, true, false, ""},
		{"dead, POST", dead, post, true, false, ""},
		{"hanging, GET", hanging, get, true, true, ""},
		{"hanging, POST", hanging, post, false, true, "did not answer POST /apps (no answer within 300ms); it may have done it: check before trying again (not sent to another broker"},
		{"hanging, host registration (an upsert)", hanging, register, true, true, ""},
		{"proxy 503, GET", withStatus(503, "proxy"), get, true, true, ""},
		{"proxy 503, POST", withStatus(503, "proxy"), post, false, true, "did not answer POST /apps (answered 503 Service Unavailable); it may have done it"},
		{"proxy 502, GET", withStatus(502, "proxy"), get, true, true, ""},
		{"proxy 504, GET", withStatus(504, "proxy"), get, true, true, ""},
		{"stopping 503, GET", withStatus(503, "stopping"), get, true, true, ""},
		{"broker's own 503, GET", withStatus(503, "broker"), get, false, true, "from the first broker: 503"},
		{"broker's 500, GET", withStatus(500, "broker"), get, false, true, "from the first broker: 500"},
		{"broker's 404, POST", withStatus(404, "broker"), post, false, true, "from the first broker: 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			firstURL, firstHits := tt.first(t)
			second := liveBroker(t)
			c, err := NewClientList(firstURL+","+second.URL, "token")
			if err != nil {
				t.Fatal(err)
			}
			c.Timeout = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = tt.req(ctx, c)
			if got := firstHits() > 0; got != tt.firstGot {
				t.Errorf("the first broker got it: %v, want %v", got, tt.firstGot)
			}
			if tt.moved {
				if err != nil || second.hits.Load() != 1 {
					t.Fatalf("err %v, second broker hits %d; want the second broker's answer", err, second.hits.Load())
				}
				// Sticky: the next request goes straight to the second.
				before := firstHits()
				if err := get(ctx, c); err != nil || second.hits.Load() != 2 || firstHits() != before || c.BaseURL() != second.URL {
					t.Errorf("next request: %v, second hits %d, first hits %d→%d, current %s", err, second.hits.Load(), before, firstHits(), c.BaseURL())
				}
				return
			}
			if second.hits.Load() != 0 {
				t.Errorf("the second broker got %d requests, want none", second.hits.Load())
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want it to contain %q", err, tt.errHas)
			}
		})
	}
}

// TestClientNoBrokerAnswers: every broker down gives one error naming each
// and why, of kind Unavailable; a single URL keeps its old wording.
func TestClientNoBrokerAnswers(t *testing.T) {
	a, b := deadURL(t), deadURL(t)
	c, err := NewClientList(a+","+b, "token")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(context.Background(), http.MethodPost, "/apps", AppCreate{Name: "web"}, nil)
	want := fmt.Sprintf("cannot reach any larder broker: %s (connection refused), %s (connection refused)", a, b)
	if fault.KindOf(err) != fault.Unavailable || fault.Message(err) != want {
		t.Errorf("got %v, want %q", err, want)
	}
	one := NewClient(a, "token")
	err = one.Do(context.Background(), http.MethodGet, "/apps", nil, nil)
	if !strings.Contains(fault.Message(err), "cannot reach the larder broker at "+a+" (connection refused) (is `larder broker` running?)") {
		t.Errorf("one URL: %v", err)
	}
}

// TestClientLongPollOutlastsTimeout: a long-poll may take its wait on top of
// the client's timeout; the timeout bounds the broker's answer beyond it.
func TestClientLongPollOutlastsTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"cursor":7}`)
	})
	c := NewClient(slow.URL, "token")
	c.Timeout = 200 * time.Millisecond
	got := make(chan error, 1)
	go func() {
		b, err := c.Changes(context.Background(), "web", 1, 30*time.Second)
		if err == nil && b.Cursor != 7 {
			err = fmt.Errorf("cursor %d, want 7", b.Cursor)
		}
		got <- err
	}()
	// Well past the timeout, the long-poll still waits.
	select {
	case err := <-got:
		t.Fatalf("the long-poll ended before the broker answered: %v", err)
	case <-time.After(time.Second):
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestClientCanceledKeepsBroker: a caller that gives up does not count
// against the broker: the client stays on it.
func TestClientCanceledKeepsBroker(t *testing.T) {
	h := testkit.NewHanging(t)
	live := liveBroker(t)
	c, err := NewClientList(h.URL+","+live.URL, "token")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Do(ctx, http.MethodGet, "/apps", nil, nil) }()
	for deadline := time.Now().Add(10 * time.Second); h.Took.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the first broker")
		}
		select {
		case err := <-done:
			t.Fatalf("ended before reaching the broker: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if c.BaseURL() != h.URL || live.hits.Load() != 0 {
		t.Errorf("current %s, live hits %d: want the first broker kept", c.BaseURL(), live.hits.Load())
	}
}
