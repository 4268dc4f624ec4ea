package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/provisioner"
	"larder/provisioner/local"
)

func TestEventRing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		size, added int
		after       uint64
		wantSeqs    []uint64
		wantDropped uint64
	}{
		{"empty", 3, 0, 0, nil, 0},
		{"all", 3, 2, 0, []uint64{1, 2}, 0},
		{"after some", 3, 3, 1, []uint64{2, 3}, 0},
		{"caught up", 3, 3, 3, nil, 0},
		{"wrapped, cursor kept", 3, 5, 2, []uint64{3, 4, 5}, 0},
		{"wrapped, cursor lost", 3, 5, 0, []uint64{3, 4, 5}, 2},
		{"wrapped twice", 3, 7, 1, []uint64{5, 6, 7}, 3},
		{"wrapped, caught up", 3, 7, 7, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewEventRing(tt.size)
			for i := range tt.added {
				r.Add(provisioner.Event{NodeID: fmt.Sprint(i + 1), Kind: provisioner.EventExited})
			}
			evs, last, dropped := r.since(tt.after)
			var seqs []uint64
			for _, se := range evs {
				seqs = append(seqs, se.Seq)
				if se.Event.NodeID != fmt.Sprint(se.Seq) {
					t.Errorf("event %d holds node %q, want %d", se.Seq, se.Event.NodeID, se.Seq)
				}
			}
			if !reflect.DeepEqual(seqs, tt.wantSeqs) || last != uint64(tt.added) || dropped != tt.wantDropped {
				t.Errorf("since(%d) = %v, last %d, dropped %d; want %v, last %d, dropped %d",
					tt.after, seqs, last, dropped, tt.wantSeqs, tt.added, tt.wantDropped)
			}
		})
	}
}

// fakeEngineHost is a local.Host whose engine is never run: enough for the
// agent routes that start no node.
func fakeEngineHost(t *testing.T, ring *EventRing) *local.Host {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	opts := local.Options{Name: "h1", Root: t.TempDir(), Log: log,
		Engine: engine.Engine{Name: "redis", Path: "/nonexistent/redis-server", Version: "7.0.0"}}
	if ring != nil {
		opts.OnEvent = ring.Add
	}
	h, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(t.Context()) })
	return h
}

func TestAgentHandlerRoutes(t *testing.T) {
	t.Parallel()
	ring := NewEventRing(3)
	for i := range 5 {
		ring.Add(provisioner.Event{NodeID: fmt.Sprint("n", i+1), Kind: provisioner.EventRestarted, At: time.Unix(int64(i), 0).UTC()})
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	handler := NewHandler(fakeEngineHost(t, nil), ring, "sekrit", log)
	specBody := `{"ID":"id-a","Name":"a","Port":24001,"Admin":{"Name":"larder-admin","Password":"pw"}}`

	tests := []struct {
		name, method, path, token, body string
		wantStatus                      int
		wantID                          string // error id, or "" for a success
		check                           func(t *testing.T, body []byte)
	}{
		{name: "no token", method: "GET", path: "/v1/status", wantStatus: 401, wantID: "unauthorized"},
		{name: "wrong token", method: "GET", path: "/v1/status", token: "sekrit2", wantStatus: 401, wantID: "unauthorized"},
		{name: "status", method: "GET", path: "/v1/status", token: "sekrit", wantStatus: 200, check: func(t *testing.T, b []byte) {
			var st provisioner.HostStatus
			if err := json.Unmarshal(b, &st); err != nil || st.Name != "h1" || st.Addr != "127.0.0.1" || st.Engine.Version != "7.0.0" {
				t.Errorf("status = %+v, %v; want h1 on 127.0.0.1 with engine 7.0.0", st, err)
			}
		}},
		{name: "events after a lost cursor", method: "GET", path: "/v1/events?after=0", token: "sekrit", wantStatus: 200, check: func(t *testing.T, b []byte) {
			p := decodePage(t, b)
			if got := pageSeqs(p); !reflect.DeepEqual(got, []uint64{3, 4, 5}) || p.Dropped != 2 || p.Last != 5 || p.Reset {
				t.Errorf("page = seqs %v, dropped %d, last %d, reset %v; want [3 4 5], 2, 5, false", got, p.Dropped, p.Last, p.Reset)
			}
			if p.Events[0].Event.NodeID != "n3" || !p.Events[0].Event.At.Equal(time.Unix(2, 0)) {
				t.Errorf("first event = %+v, want node n3 at 2s", p.Events[0].Event)
			}
		}},
		{name: "events caught up", method: "GET", path: "/v1/events?after=5&boot=" + ring.boot, token: "sekrit", wantStatus: 200, check: func(t *testing.T, b []byte) {
			if p := decodePage(t, b); len(p.Events) != 0 || p.Dropped != 0 || p.Reset || p.Boot != ring.boot {
				t.Errorf("page = %+v, want no events of boot %s", p, ring.boot)
			}
		}},
		{name: "events of another boot", method: "GET", path: "/v1/events?after=4&boot=other", token: "sekrit", wantStatus: 200, check: func(t *testing.T, b []byte) {
			if p := decodePage(t, b); !p.Reset || !reflect.DeepEqual(pageSeqs(p), []uint64{3, 4, 5}) {
				t.Errorf("page = %+v, want a reset with events 3-5", p)
			}
		}},
		{name: "events from the future", method: "GET", path: "/v1/events?after=99", token: "sekrit", wantStatus: 200, check: func(t *testing.T, b []byte) {
			if p := decodePage(t, b); !p.Reset || len(p.Events) != 3 {
				t.Errorf("page = %+v, want a reset with 3 events", p)
			}
		}},
		{name: "bad cursor", method: "GET", path: "/v1/events?after=x", token: "sekrit", wantStatus: 422, wantID: "invalid_params"},
		{name: "port", method: "GET", path: "/v1/ports/80000", token: "sekrit", wantStatus: 422, wantID: "invalid_params"},
		{name: "unknown route", method: "GET", path: "/v1/nope", token: "sekrit", wantStatus: 404, wantID: "not_found"},
		{name: "wrong method", method: "GET", path: "/v1/nodes/id-a/start", token: "sekrit", wantStatus: 404, wantID: "not_found"},
		{name: "malformed body", method: "POST", path: "/v1/nodes/id-a/start", token: "sekrit", body: `{"ID": "pw-in-body`, wantStatus: 400, wantID: "bad_request"},
		{name: "id mismatch", method: "POST", path: "/v1/nodes/id-b/info", token: "sekrit", body: specBody, wantStatus: 422, wantID: "invalid_params"},
		{name: "stop unknown", method: "POST", path: "/v1/nodes/id-a/stop", token: "sekrit", wantStatus: 404, wantID: "not_found"},
		{name: "start invalid", method: "POST", path: "/v1/nodes/id-a/start", token: "sekrit", body: `{"ID":"id-a","Name":"../a","Port":24001}`, wantStatus: 422, wantID: "invalid_params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, rec.Code, body, tt.wantStatus)
			}
			if tt.wantID != "" {
				var e agentError
				if err := json.Unmarshal(body, &e); err != nil || e.ID != tt.wantID || e.Message == "" {
					t.Errorf("error body = %s, want id %q and a message", body, tt.wantID)
				}
				if strings.Contains(string(body), "pw") {
					t.Errorf("error body %s quotes the request body", body)
				}
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestAgentHandlerWithoutTokenRefusesAll(t *testing.T) {
	t.Parallel()
	handler := NewHandler(fakeEngineHost(t, nil), nil, "", nil)
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		req := httptest.NewRequest("GET", "/v1/status", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q = %d, want 401", auth, rec.Code)
		}
	}
}

func decodePage(t *testing.T, b []byte) eventsPage {
	t.Helper()
	var p eventsPage
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("events page %s: %v", b, err)
	}
	return p
}

func pageSeqs(p eventsPage) []uint64 {
	var seqs []uint64
	for _, se := range p.Events {
		seqs = append(seqs, se.Seq)
	}
	return seqs
}
