package api

import (
	"fmt"
	"net/url"
	"strings"
	"sync"

	"larder/fault"
)

// Endpoints is the list of brokers a client may talk to, in order, and the
// one it talks to now. Several brokers sharing one store each serve the whole
// API, so a client that cannot reach one moves to the next; it stays on the
// one that works (sticky), so a healthy deployment sees each client on one
// broker and a dead first URL costs one failed dial per process, not one per
// request. Safe for concurrent use (an observer's probes and reports share it).
type Endpoints struct {
	urls []string // base URLs, no trailing slash
	mu   sync.Mutex
	cur  int
}

// ParseEndpoints reads a comma-separated list of broker base URLs
// (`http://a:7480,http://b:7480`; one URL is a list of one). Every element
// must be an http or https URL with a host and without credentials, query or
// fragment: the token travels in its own header, never in a URL that ends
// up in logs. Errors name the element by position and never repeat a
// credential.
func ParseEndpoints(list string) (*Endpoints, error) {
	parts := strings.Split(list, ",")
	urls := make([]string, 0, len(parts))
	seen := map[string]bool{}
	for i, p := range parts {
		u, err := checkBrokerURL(strings.TrimSpace(p))
		if err != nil {
			if len(parts) == 1 {
				return nil, fault.E(fault.Invalid, "invalid broker URL: %s", err)
			}
			return nil, fault.E(fault.Invalid, "invalid broker URL list: element %d of %d: %s", i+1, len(parts), err)
		}
		if seen[u] {
			return nil, fault.E(fault.Invalid, "invalid broker URL list: %s is listed twice", u)
		}
		seen[u] = true
		urls = append(urls, u)
	}
	return &Endpoints{urls: urls}, nil
}

// checkBrokerURL returns s without a trailing slash, or says what is wrong
// with it without quoting what might be a secret.
func checkBrokerURL(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("it is empty (use http://HOST:PORT[,http://HOST:PORT…] with no empty element)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		// url.Parse's error quotes the input, which may hold a password.
		return "", fmt.Errorf("it is not a URL of the form http://HOST:PORT")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return "", fmt.Errorf("%s://…@%s carries credentials: put the token in LARDER_API_TOKEN (or the token flag), never in the URL", u.Scheme, u.Host)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%s://%s has a query or fragment: give the broker's base URL only", u.Scheme, u.Host)
	}
	return strings.TrimRight(s, "/"), nil
}

// singleEndpoint is a list of one URL the program itself made (a broker's
// own address), taken as it is.
func singleEndpoint(baseURL string) *Endpoints {
	return &Endpoints{urls: []string{strings.TrimRight(baseURL, "/")}}
}

// Len is the number of URLs.
func (e *Endpoints) Len() int { return len(e.urls) }

// URLs returns the list, in order.
func (e *Endpoints) URLs() []string { return append([]string(nil), e.urls...) }

// String is the list as it is written: comma-separated.
func (e *Endpoints) String() string { return strings.Join(e.urls, ",") }

// Current returns the index and URL of the broker requests go to now.
func (e *Endpoints) Current() (int, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur, e.urls[e.cur]
}

// Failed moves the current broker past i, which did not answer. A failure
// of a broker that is no longer current (another request already moved on)
// changes nothing, so concurrent failures of one broker skip it once, not
// the good broker after it as well.
func (e *Endpoints) Failed(i int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == i {
		e.cur = (i + 1) % len(e.urls)
	}
}
