package daemon

import (
	"testing"

	"larder/internal/roles"
)

// TestRolesNamedAlike: the larder command hands exactly the roles
// larder-server runs over to it, and lists them with the same words.
func TestRolesNamedAlike(t *testing.T) {
	cmds := Commands()
	if len(cmds) != len(roles.All) {
		t.Fatalf("daemon runs %d roles, internal/roles names %d", len(cmds), len(roles.All))
	}
	for i, c := range cmds {
		r := roles.All[i]
		if c.Name != r.Name || c.Usage != r.Usage || c.Category != roles.Category {
			t.Errorf("role %d: daemon has %q (%q, %q), internal/roles %q (%q, %q)", i, c.Name, c.Usage, c.Category, r.Name, r.Usage, roles.Category)
		}
		if !roles.Is(c.Name) {
			t.Errorf("roles.Is(%q) = false", c.Name)
		}
	}
	if roles.Is("addons") {
		t.Error(`roles.Is("addons") = true`)
	}
}
