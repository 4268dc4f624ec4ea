package integration

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// primaryNode is where app's REDIS add-on's primary node listens, as the
// broker reports it: REDIS_URL names the edge, which forwards there.
func primaryNode(t testing.TB, b *Broker, app string) (addr string, port int) {
	t.Helper()
	ctx := context.Background()
	addons, err := b.Client().Addons(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, a := range addons {
		for _, at := range a.Attachments {
			if at.App.Name == app && at.Name == "REDIS" {
				name = a.Name
			}
		}
	}
	if name == "" {
		t.Fatalf("%s has no REDIS add-on", app)
	}
	targets, err := b.Client().MonitorTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range targets {
		if n.Addon == name && n.Role == "primary" {
			return n.Addr, n.Port
		}
	}
	t.Fatalf("%s has no primary node", name)
	return "", 0
}

// primaryPort is the port of app's REDIS primary node.
func primaryPort(t testing.TB, b *Broker, app string) int {
	t.Helper()
	_, port := primaryNode(t, b, app)
	return port
}

// nodeURL is rawURL (its user and password) pointed straight at a node,
// past the edge.
func nodeURL(t testing.TB, rawURL, addr string, port int) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(addr, strconv.Itoa(port))
	return u.String()
}

// directURL is app's REDIS_URL pointed at its primary node.
func directURL(t *testing.T, b *Broker, app string) string {
	t.Helper()
	addr, port := primaryNode(t, b, app)
	return nodeURL(t, configVars(t, b, app)["REDIS_URL"], addr, port)
}

// onEdge fails the test unless rawURL names one of b's edge ports.
func onEdge(t *testing.T, b *Broker, rawURL string) error {
	p := portOf(t, rawURL)
	if p < b.EdgePorts[0] || p > b.EdgePorts[1] {
		return fmt.Errorf("URL port %d is not in the edge's range %v", p, b.EdgePorts)
	}
	return nil
}

// waitServedBy waits until a new connection through rawURL (the edge)
// reaches the node on port: CLIENT INFO's laddr is the node's own address.
func waitServedBy(t *testing.T, rawURL string, port int) {
	t.Helper()
	c := redisClient(t, rawURL)
	want := fmt.Sprintf(":%d ", port)
	WaitFor(t, 10*time.Second, fmt.Sprintf("connections through the edge to reach port %d", port), func() error {
		c.Close()
		c = redisClient(t, rawURL)
		info, err := c.Do(context.Background(), "CLIENT", "INFO").Text()
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(info) {
			if strings.HasPrefix(f, "laddr=") && strings.HasSuffix(f+" ", want) {
				return nil
			}
		}
		return fmt.Errorf("served by %s", info)
	})
}
