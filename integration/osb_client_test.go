package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
)

// A platform's client of the Open Service Broker API, for the osb tests.

const osbPassword = "osb-test-password"

// osbAPI is a platform's view of a broker.
type osbAPI struct {
	t       *testing.T
	url     string
	user    string
	pass    string
	service string            // service id from the catalog
	plans   map[string]string // plan name → id
}

// newOSB reads the catalog of b, whose OSB password is osbPassword.
func newOSB(t *testing.T, b *Broker) *osbAPI {
	t.Helper()
	o := &osbAPI{t: t, url: b.URL, user: "larder", pass: osbPassword, plans: map[string]string{}}
	r := o.do("GET", "/v2/catalog", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v2/catalog = %d %s", r.Status, r.Raw)
	}
	var c struct {
		Services []struct {
			ID    string `json:"id"`
			Plans []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"plans"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &c); err != nil || len(c.Services) != 1 {
		t.Fatalf("catalog %s: %v", r.Raw, err)
	}
	o.service = c.Services[0].ID
	for _, p := range c.Services[0].Plans {
		o.plans[p.Name] = p.ID
	}
	return o
}

// osbResp is one answer of the broker.
type osbResp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r osbResp) str(key string) string { s, _ := r.Body[key].(string); return s }

// do sends a request with the platform's headers (version 2.17, Basic auth);
// edit may change them before it goes.
func (o *osbAPI) do(method, path string, body any, edit ...func(*http.Request)) osbResp {
	o.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			o.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, o.url+path, rd)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(o.user, o.pass)
	for _, e := range edit {
		e(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := osbResp{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw), Body: map[string]any{}}
	if err := json.Unmarshal(raw, &out.Body); err != nil {
		o.t.Fatalf("%s %s: answer %d is not a JSON object: %q", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusGone && (out.str("error") == "" || out.str("description") == "") {
		o.t.Errorf("%s %s: error %d without error and description: %s", method, path, resp.StatusCode, raw)
	}
	return out
}

func header(k, v string) func(*http.Request) {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del(k)
			return
		}
		r.Header.Set(k, v)
	}
}

func identity(platform, json string) func(*http.Request) {
	return header("X-Broker-API-Originating-Identity", platform+" "+base64.StdEncoding.EncodeToString([]byte(json)))
}

// provision is the body of a provision request in Cloud Foundry space space.
func (o *osbAPI) provision(plan, space string, params map[string]any) map[string]any {
	body := map[string]any{
		"service_id": o.service, "plan_id": o.plans[plan], "organization_guid": "org-1", "space_guid": space,
		"context": map[string]any{"platform": "cloudfoundry", "organization_guid": "org-1", "space_guid": space, "instance_name": "cache"},
	}
	if params != nil {
		body["parameters"] = params
	}
	return body
}

func (o *osbAPI) bindBody(plan string) map[string]any {
	return map[string]any{"service_id": o.service, "plan_id": o.plans[plan], "bind_resource": map[string]any{"app_guid": "app-1"}}
}

// deleteQuery is the query a platform's deletes carry.
func (o *osbAPI) deleteQuery(plan string) string {
	return "service_id=" + o.service + "&plan_id=" + o.plans[plan]
}

// waitState polls last_operation of path until it reports want, failing on
// another final state.
func (o *osbAPI) waitState(path, operation, want string) osbResp {
	o.t.Helper()
	q := ""
	if operation != "" {
		q = "?operation=" + operation
	}
	var last osbResp
	WaitFor(o.t, 60*time.Second, path+" last_operation "+want, func() error {
		last = o.do("GET", path+"/last_operation"+q, nil)
		state := last.str("state")
		switch {
		case last.Status != http.StatusOK:
			return fmt.Errorf("status %d: %s", last.Status, last.Raw)
		case state == want:
			return nil
		case state != "in progress":
			o.t.Fatalf("%s last_operation = %s, want %s: %s", path, state, want, last.Raw)
		case last.Header.Get("Retry-After") == "":
			o.t.Errorf("in-progress last_operation without Retry-After")
		}
		return fmt.Errorf("state %q", state)
	})
	return last
}

type bindingCreds struct {
	URI, Host, Username, Password string
	Port                          int
}

func credsOf(t *testing.T, r osbResp) bindingCreds {
	t.Helper()
	c, ok := r.Body["credentials"].(map[string]any)
	if !ok {
		t.Fatalf("no credentials in %s", r.Raw)
	}
	port, _ := c["port"].(float64)
	out := bindingCreds{URI: str(c["uri"]), Host: str(c["host"]), Username: str(c["username"]), Password: str(c["password"]), Port: int(port)}
	if out.URI == "" || out.Host == "" || out.Port == 0 || out.Username == "" || out.Password == "" {
		t.Fatalf("incomplete credentials: %s", r.Raw)
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// bindingClient connects with the separate host/port/username/password fields.
func bindingClient(t *testing.T, c bindingCreds) *redis.Client {
	cl := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), Username: c.Username, Password: c.Password,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { cl.Close() })
	return cl
}

func eventsMention(evs []api.Event, kind, text string) bool {
	for _, e := range evs {
		if e.Kind == kind && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// checkNoBindingVars checks that no app's config vars carry a binding's
// credentials: bindings are not attachments.
func checkNoBindingVars(t *testing.T, b *Broker, creds ...bindingCreds) {
	t.Helper()
	ctx := context.Background()
	apps, err := b.Client().Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range apps {
		vars, err := b.Client().ConfigVars(ctx, app.Name)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range vars {
			for _, c := range creds {
				if strings.Contains(v, c.Password) || strings.Contains(v, c.Username) {
					t.Errorf("app %s var %s carries the credentials of binding user %s", app.Name, k, c.Username)
				}
			}
		}
	}
}
