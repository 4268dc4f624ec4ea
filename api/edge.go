package api

import (
	"context"
	"net/http"
)

// EdgeAccess reads who may connect to an add-on through the edge: its
// allowlist and whether it takes TLS connections only.
func (c *Client) EdgeAccess(ctx context.Context, app, ref string) (EdgeAccess, error) {
	var out EdgeAccess
	return out, c.Do(ctx, http.MethodGet, redisPath(app, ref, "/access"), nil, &out)
}

// ChangeEdgeAccess adds and removes allowlist entries and sets TLS-only; a
// bad CIDR is refused with the reason and nothing changes. The edge applies
// the result to new and open connections at once.
func (c *Client) ChangeEdgeAccess(ctx context.Context, app, ref string, p EdgeAccessPatch) (EdgeAccess, error) {
	var out EdgeAccess
	return out, c.Do(ctx, http.MethodPatch, redisPath(app, ref, "/access"), p, &out)
}
