package provisioner

import (
	"context"
	"strconv"
)

// LinkStatus is a follower's link to its leader, from INFO replication.
type LinkStatus struct {
	ReplInfo
	LinkDownSeconds int // how long the link has been down; 0 while up
}

// FollowerLink reads the link of t, a node that follows a leader (see
// NodeSpec.Leader and Follow).
func FollowerLink(ctx context.Context, t Target) (LinkStatus, error) {
	c := t.client()
	defer c.Close()
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return LinkStatus{}, t.fault(err, "read the follower link")
	}
	st := LinkStatus{ReplInfo: parseReplInfo(text)}
	if !st.LinkUp {
		st.LinkDownSeconds, _ = strconv.Atoi(infoMap(text)["master_link_down_since_seconds"])
	}
	return st, nil
}
