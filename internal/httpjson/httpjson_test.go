package httpjson

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"larder/fault"
)

func TestStatusAndKindFor(t *testing.T) {
	for _, tc := range []struct {
		kind   fault.Kind
		status int
		back   fault.Kind // what KindFor(status) reads it as
	}{
		{fault.BadRequest, 400, fault.BadRequest},
		{fault.Unauthorized, 401, fault.Unauthorized},
		{fault.NotFound, 404, fault.NotFound},
		{fault.Conflict, 409, fault.Conflict},
		{fault.Invalid, 422, fault.Invalid},
		{fault.Ambiguous, 422, fault.Invalid},
		{fault.Confirmation, 422, fault.Invalid},
		{fault.Unavailable, 503, fault.Unavailable},
		{fault.Internal, 500, fault.Internal},
		{fault.Kind("something_new"), 500, fault.Internal},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			if got := Status(tc.kind); got != tc.status {
				t.Errorf("Status(%s) = %d, want %d", tc.kind, got, tc.status)
			}
			if got := KindFor(tc.status); got != tc.back {
				t.Errorf("KindFor(%d) = %s, want %s", tc.status, got, tc.back)
			}
		})
	}
	if got := KindFor(http.StatusForbidden); got != fault.Unauthorized {
		t.Errorf("KindFor(403) = %s, want %s", got, fault.Unauthorized)
	}
	if got := KindFor(http.StatusTeapot); got != fault.Internal {
		t.Errorf("KindFor(418) = %s, want %s", got, fault.Internal)
	}
}

func TestServe(t *testing.T) {
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		Write(w, Status(fault.KindOf(err)), map[string]string{"id": string(fault.KindOf(err))})
	}
	for _, tc := range []struct {
		name     string
		fn       Endpoint
		status   int
		wantBody string // "" for none
	}{
		{"body", func(*http.Request) (int, any, error) { return 201, map[string]int{"n": 1}, nil }, 201, `{"n":1}`},
		{"no body", func(*http.Request) (int, any, error) { return 204, nil, nil }, 204, ""},
		{"error", func(*http.Request) (int, any, error) { return 200, "ignored", fault.E(fault.NotFound, "no") }, 404, `{"id":"not_found"}`},
		{"plain error", func(*http.Request) (int, any, error) { return 0, nil, errors.New("boom") }, 500, `{"id":"internal_error"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Serve(tc.fn, fail)(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			if tc.wantBody == "" {
				if rec.Body.Len() != 0 {
					t.Errorf("body = %q, want none", rec.Body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var got any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if gb, _ := json.Marshal(got); string(gb) != tc.wantBody {
				t.Errorf("body = %s, want %s", gb, tc.wantBody)
			}
		})
	}
}

func TestRecorderKeepsStatus(t *testing.T) {
	rec := NewRecorder(httptest.NewRecorder())
	if rec.Status != http.StatusOK {
		t.Fatalf("fresh Recorder.Status = %d, want 200", rec.Status)
	}
	rec.WriteHeader(http.StatusTeapot)
	if rec.Status != http.StatusTeapot {
		t.Errorf("Recorder.Status = %d, want %d", rec.Status, http.StatusTeapot)
	}
}
