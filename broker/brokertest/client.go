package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
)

// Provision creates an add-on of plan on app through the API client c and
// waits, on the change feed, until it is provisioned (a spare handed over
// needs no wait, and the result has no operation); a failed or late
// provision fails the test.
func Provision(t testing.TB, c *api.Client, app, plan, name string) api.AddonResult {
	t.Helper()
	ctx := context.Background()
	res, err := c.CreateAddon(ctx, app, api.AddonCreate{Plan: plan, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if res.Operation != nil {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if _, err := c.WaitOperation(wctx, res.Operation.ID, 0, nil); err != nil {
			t.Fatalf("provision %s: %v", res.Addon.Name, err)
		}
	}
	return res
}

// AddonClient is a go-redis client on app's add-on, from the credentials
// the API gives; the test's end closes it.
func AddonClient(t testing.TB, c *api.Client, app, addon string) *redis.Client {
	t.Helper()
	creds, err := c.Credentials(context.Background(), app, addon)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(creds.URL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	return rc
}
