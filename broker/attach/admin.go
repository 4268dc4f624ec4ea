package attach

import (
	"crypto/rand"
	"encoding/hex"

	"larder/engine"
	"larder/store"
)

// Target is how larder itself reaches node n of a, for replication and
// admin commands: as the add-on's admin user, where apps use URL.
func Target(a store.Addon, n store.Node) engine.Target {
	return engine.Target{Endpoint: engine.Endpoint{Addr: n.Address, Port: n.Port},
		Admin: engine.User{Name: engine.AdminUser, Password: a.AdminPassword}, Name: n.Name}
}

// NewSecret returns 32 random bytes as hex: passwords for the engine's users.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
