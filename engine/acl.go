package engine

import (
	"context"
	"fmt"
	"strings"
)

// aclUser is one engine user as the ACL file and ApplyUsers define it.
type aclUser struct {
	name  string
	rules []string // after the user's name, as in the ACL file
}

// aclRules lists a node's users: the admin user with every right, the
// customer's user (and each binding's) with CustomerACL, the replication
// and monitor users, and, when the customer's user is not `default`, the
// default user switched off so that it cannot be used without a password.
// RenderACL and ApplyUsers both use it, so the file and the live node agree.
func aclRules(spec Spec) []aclUser {
	user := func(u User, rules string) aclUser {
		return aclUser{name: u.Name, rules: append([]string{"on", ">" + u.Password}, strings.Fields(rules)...)}
	}
	customer := user(spec.Customer, CustomerACL)
	if spec.CustomerAlt != "" {
		// A rotation under way: both passwords work until it is confirmed.
		customer.rules = append([]string{"on", ">" + spec.Customer.Password, ">" + spec.CustomerAlt}, strings.Fields(CustomerACL)...)
	}
	out := []aclUser{user(spec.Admin, "~* &* +@all"), customer}
	for _, u := range spec.ExtraUsers {
		out = append(out, user(u, CustomerACL))
	}
	if spec.Repl.Name != "" {
		out = append(out, user(spec.Repl, ReplACL))
	}
	if spec.Monitor.Name != "" {
		out = append(out, user(spec.Monitor, MonitorACL))
	}
	if spec.Customer.Name != CustomerUser && spec.Admin.Name != CustomerUser {
		out = append(out, aclUser{name: CustomerUser, rules: strings.Fields("off resetpass resetkeys resetchannels -@all")})
	}
	return out
}

// ApplyUsers makes a running node's users exactly those of spec, as a
// restart would load them from its ACL file. It does not use ACL LOAD: that
// drops every connection of every user but `default` (larder's held
// connection, the standby's replication link, the observers', the apps of
// Open Service Broker bindings), and on a node the app fills a dropped
// connection may not get back in. ACL SETUSER keeps a user's connections (a
// rotated password is followed by DisconnectUser); ACL DELUSER closes those
// of a user that is gone, which is what revoking it means.
func ApplyUsers(ctx context.Context, c Doer, spec Spec) error {
	want := map[string]bool{}
	for _, u := range aclRules(spec) {
		want[u.name] = true
		// The resets make an existing user the same as a new one.
		args := append([]string{"ACL", "SETUSER", u.name, "resetpass", "resetkeys", "resetchannels", "-@all"}, u.rules...)
		if _, err := c.Do(ctx, args...); err != nil {
			// The engine may quote the rule it refused, password included.
			msg := err.Error()
			for _, pw := range spec.Passwords() {
				if pw != "" {
					msg = strings.ReplaceAll(msg, pw, "[redacted]")
				}
			}
			return fmt.Errorf("set user %s: %s", u.name, msg)
		}
	}
	v, err := c.Do(ctx, "ACL", "USERS")
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	names, _ := v.([]any)
	for _, n := range names {
		if name, ok := n.(string); ok && !want[name] && name != CustomerUser {
			if _, err := c.Do(ctx, "ACL", "DELUSER", name); err != nil {
				return fmt.Errorf("delete user %s: %w", name, err)
			}
		}
	}
	return nil
}
