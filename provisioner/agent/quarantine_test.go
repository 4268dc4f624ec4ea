package agent

import (
	"context"
	"testing"

	"larder/provisioner/nodetest"
)

func TestRemoteHostQuarantine(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, _ := env.remote(a.url(), a.token)
	spec := env.spec("remote-orphan", true)
	n, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, spec, 10)
	if err := r.Quarantine(context.Background(), spec); err != nil {
		t.Fatalf("Quarantine() error = %v", err)
	}
	nodetest.CheckQuarantined(t, env.Env, spec, n)
}
