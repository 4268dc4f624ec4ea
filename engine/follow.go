package engine

import "context"

// FollowerLink reads the link of t, a node that follows a leader (see
// Spec.Leader and Follow): its ReplInfo, LinkDownSeconds included.
func FollowerLink(ctx context.Context, t Target) (ReplInfo, error) {
	c := t.client()
	defer c.Close()
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return ReplInfo{}, t.fault(err, "read the follower link")
	}
	return ParseInfo(text).Repl, nil
}
