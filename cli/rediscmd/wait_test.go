package rediscmd

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"larder/api"
)

func TestParseWaitInterval(t *testing.T) {
	tests := []struct {
		text string
		want time.Duration
	}{
		{"1", time.Second},
		{"2.5", 2500 * time.Millisecond},
		{" 0.2 ", 200 * time.Millisecond},
		{"0", defaultWaitInterval},
		{"-3", defaultWaitInterval},
		{"soon", defaultWaitInterval},
		{"", defaultWaitInterval},
		{"NaN", defaultWaitInterval},
		{"+Inf", maxWaitInterval},
		{"1e300", maxWaitInterval},
		{"1e-12", time.Millisecond},
	}
	for _, tt := range tests {
		if got := parseWaitInterval(tt.text); got != tt.want {
			t.Errorf("parseWaitInterval(%q): got %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestWaitReady(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		answers     []api.WaitStatus
		failAt      int // answer index that fails instead; -1 for none
		wantWaiting []string
		wantErr     error
	}{
		{"ready at once is silent", []api.WaitStatus{{}}, -1, nil, nil},
		{"waits, then ready", []api.WaitStatus{{Waiting: true, Message: "starting"}, {Waiting: true, Message: "loading AOF"}, {Message: "available"}},
			-1, []string{"starting", "loading AOF"}, nil},
		{"a failed check ends the wait", []api.WaitStatus{{Waiting: true, Message: "starting"}, {}}, 1, []string{"starting"}, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			check := func(context.Context) (api.WaitStatus, error) {
				i := calls
				calls++
				if i == tt.failAt {
					return api.WaitStatus{}, boom
				}
				return tt.answers[i], nil
			}
			var waiting []string
			err := waitReady(context.Background(), check, time.Millisecond, nil, func(st api.WaitStatus) { waiting = append(waiting, st.Message) })
			if !errors.Is(err, tt.wantErr) || !reflect.DeepEqual(waiting, tt.wantWaiting) {
				t.Errorf("waitReady: got %v, waiting %q; want %v, %q", err, waiting, tt.wantErr, tt.wantWaiting)
			}
		})
	}
}

func TestWaitReadyEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	check := func(context.Context) (api.WaitStatus, error) { return api.WaitStatus{Waiting: true}, nil }
	err := waitReady(ctx, check, time.Hour, nil, func(api.WaitStatus) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("waitReady after cancel: got %v, want %v", err, context.Canceled)
	}
}
