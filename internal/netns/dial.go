package netns

import (
	"context"
	"net"
)

// DialContext connects from inside the namespace, so the peer sees the
// namespace's address as the source (a client on another network). The
// socket is made on a thread that joined the namespace and stays in it;
// it fits go-redis's Options.Dialer.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(n.Name, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
