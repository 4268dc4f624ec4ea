package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"larder/api"
	"larder/broker/brokertest"
	"larder/internal/testkit"
)

// TestStoppingBrokerMarksItsAnswers: a long-poll that the broker's stop
// ends answers 503 with api.StoppingHeader, so a client with several
// brokers asks another one; an ordinary error answer carries no mark.
func TestStoppingBrokerMarksItsAnswers(t *testing.T) {
	b, c := feedBroker(t, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+brokertest.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("/apps/nope"); resp.StatusCode != http.StatusNotFound || resp.Header.Get(api.StoppingHeader) != "" {
		t.Fatalf("a running broker's 404: %d, %s=%q", resp.StatusCode, api.StoppingHeader, resp.Header.Get(api.StoppingHeader))
	}
	answered := make(chan *http.Response, 1)
	go func() { answered <- get("/apps/web/changes?cursor=0&wait=30s") }()
	testkit.WaitFor(t, 10*time.Second, func() error {
		if w := b.Changes.Waiters(); w != 1 {
			return fmt.Errorf("%d waiting", w)
		}
		return nil
	})
	b.StopWaiters()
	resp := <-answered
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(api.StoppingHeader) == "" {
		t.Errorf("a long-poll ended by the stop: %d, %s=%q, want 503 marked", resp.StatusCode, api.StoppingHeader, resp.Header.Get(api.StoppingHeader))
	}
}
