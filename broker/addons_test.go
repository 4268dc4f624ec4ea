package broker

import (
	"strings"
	"testing"

	"larder/fault"
)

func TestCheckCreateOptions(t *testing.T) {
	if p, err := checkCreateOptions(nil); err != nil || p != "noeviction" {
		t.Fatalf("default = %q, %v", p, err)
	}
	if p, err := checkCreateOptions(map[string]string{"maxmemory_policy": "allkeys-lru"}); err != nil || p != "allkeys-lru" {
		t.Fatalf("allkeys-lru = %q, %v", p, err)
	}
	if _, err := checkCreateOptions(map[string]string{"maxmemory_policy": "lol"}); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "allkeys-lru") {
		t.Fatalf("bad policy err = %v, want Invalid listing policies", err)
	}
	if _, err := checkCreateOptions(map[string]string{"frok": "x"}); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("unknown option err = %v", err)
	}
}
