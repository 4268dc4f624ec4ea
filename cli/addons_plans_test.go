package cli

import (
	"io"
	"testing"

	"larder/api"
	"larder/internal/testkit"
)

func TestMonthlyPrice(t *testing.T) {
	tests := []struct {
		cents int
		want  string
	}{{0, "free"}, {300, "$3/month"}, {250, "$2.50/month"}, {1, "$0.01/month"}}
	for _, tt := range tests {
		if got := monthlyPrice(tt.cents); got != tt.want {
			t.Errorf("monthlyPrice(%d): got %q, want %q", tt.cents, got, tt.want)
		}
	}
}

func TestWritePlans(t *testing.T) {
	plans := []api.Plan{
		{Name: "larder-redis:mini", MaxMemoryBytes: 25 << 20, MaxClients: 20, PriceCents: 300, Default: true, Description: "no persistence"},
		{Name: "larder-redis:premium-0", MaxMemoryBytes: 50 << 20, MaxClients: 40, Persistence: true, HA: true, PriceCents: 1500, Description: "AOF, HA"},
	}
	want := "" +
		"         Name                    Memory  Connections  Persistence  HA   Price      Description\n" +
		"───────  ──────────────────────  ──────  ───────────  ───────────  ───  ─────────  ──────────────\n" +
		"default  larder-redis:mini       25 MB   20           none         no   $3/month   no persistence\n" +
		"         larder-redis:premium-0  50 MB   40           AOF          yes  $15/month  AOF, HA\n"
	testkit.CheckOutput(t, "addons:plans", func(w io.Writer) error { return writePlans(w, plans) }, want)
}
