package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"larder/fault"
)

// StoppingHeader marks an answer from a broker that is shutting down (a
// long-poll its stop ended): the broker is going away, so a client asks
// another one rather than taking the answer as the API's.
const StoppingHeader = "Larder-Broker-Stopping"

// DefaultTimeout is how long one broker may take to answer one request,
// beyond the wait of a long-poll, before the client counts it as not
// answering.
const DefaultTimeout = 60 * time.Second

// dialTimeout bounds a connection's set-up: a broker whose machine is gone
// (no refusal, no answer) is left after this, whatever the request.
const dialTimeout = 5 * time.Second

// call is one request of the broker's API as the failover loop sends it.
type call struct {
	method, path string
	body         []byte        // JSON; nil for none
	wait         time.Duration // how long the broker may hold it (a long-poll), added to the timeout
	stream       bool          // the caller reads the answer's body for as long as it takes
	resend       bool          // doing it twice does no harm (an upsert), so it may go to another broker after reaching one
	// count, for a listing, is told how many items the answer says it
	// holds before they are decoded, to make room for them.
	count func(n int)
}

// outcome is what became of one attempt on one broker.
type outcome int

const (
	// answered: the broker answered, with any status of its own; that is
	// the request's result.
	answered outcome = iota
	// notSent: no connection was made, so no byte reached any broker and
	// nothing can have been done (refused, no route, dial timeout).
	notSent
	// lost: the request may have reached a broker that did not answer it
	// (no answer in time, a cut connection, a proxy's 502/503/504, a
	// stopping broker's 503): it may or may not have been done.
	lost
)

// classify tells what an attempt's answer means. connected says whether a
// connection was obtained for the request (before that, nothing was sent).
// A 503 with the broker's own JSON error and no StoppingHeader is an
// answer (a node or host the broker needs cannot serve), as is every 4xx and
// 500: another broker on the same store would say the same.
func classify(connected bool, resp *http.Response, err error) outcome {
	if err != nil {
		if !connected {
			return notSent
		}
		return lost
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return lost // larder never answers these; a proxy in front does
	case http.StatusServiceUnavailable:
		if resp.Header.Get(StoppingHeader) != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			return lost
		}
	}
	return answered
}

// mayResend says whether c may go to another broker after outcome o: when
// it never left, always; when it may have been done, only if doing it again
// is harmless (reads, and calls marked resend). larder has no idempotency
// keys, so a POST, PATCH or DELETE that may have reached a broker is never
// sent to a second one: the caller is told to check instead.
func (c call) mayResend(o outcome) bool {
	switch o {
	case notSent:
		return true
	case lost:
		return c.method == http.MethodGet || c.method == http.MethodHead || c.resend
	}
	return false
}

// errAttemptTimeout ends an attempt whose broker did not answer in time.
var errAttemptTimeout = errors.New("attempt timed out")

// send sends cl to the current broker and, while brokers do not answer and
// sending again is safe, to the next ones, each at most once. It returns the
// first answer (any status); done must be called once its body is read.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, func(), error) {
	eps := c.Endpoints
	var failed []failure
	for range eps.Len() {
		i, base := eps.Current()
		resp, done, o, why := c.attempt(ctx, base, cl)
		if o == answered {
			return resp, done, nil
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			// The caller gave up: no fault of the broker's.
			return nil, nil, fault.Wrap(fault.Unavailable, ctx.Err(), "cannot reach the larder broker: interrupted")
		}
		eps.Failed(i)
		failed = append(failed, failure{base, why})
		if ctx.Err() != nil || !cl.mayResend(o) {
			return nil, nil, unanswered(cl, failed, o, eps.Len())
		}
	}
	return nil, nil, unanswered(cl, failed, notSent, eps.Len())
}

// failure is one broker that did not answer, and why.
type failure struct{ url, why string }

func (f failure) String() string { return f.url + " (" + f.why + ")" }

// unanswered is the error of a request no broker answered: where it went
// and why each broker failed, and whether it may have been done.
func unanswered(cl call, failed []failure, last outcome, n int) error {
	if last == lost && !cl.mayResend(lost) {
		f := failed[len(failed)-1]
		msg := fmt.Sprintf("the larder broker at %s did not answer %s %s (%s); it may have done it: check before trying again",
			f.url, cl.method, pathOnly(cl.path), f.why)
		if n > 1 {
			msg += " (not sent to another broker, which could do it a second time)"
		}
		if len(failed) > 1 {
			msg += "; before it: " + joinFailures(failed[:len(failed)-1])
		}
		return fault.E(fault.Unavailable, "%s", msg)
	}
	if n == 1 {
		return fault.E(fault.Unavailable, "cannot reach the larder broker at %s (is `larder broker` running?)", failed[0])
	}
	return fault.E(fault.Unavailable, "cannot reach any larder broker: %s", joinFailures(failed))
}

func joinFailures(fs []failure) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}

// pathOnly drops a path's query (it may carry a cursor or a filter, and
// says nothing a user needs).
func pathOnly(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}

// attempt sends cl to one broker. It returns the answer and its done when
// the broker answered, else why it did not (short, for a user).
func (c *Client) attempt(ctx context.Context, base string, cl call) (*http.Response, func(), outcome, string) {
	actx, cancel := context.WithCancelCause(ctx)
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.AfterFunc(timeout+cl.wait, func() { cancel(errAttemptTimeout) })
	done := func() {
		timer.Stop()
		cancel(nil)
	}
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), cl.method, base+cl.path, body)
	if err != nil {
		done()
		return nil, nil, notSent, "bad request: " + err.Error()
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !cl.stream {
		req.Header.Set("Accept", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	o := classify(connected.Load(), resp, err)
	if o == answered {
		if cl.stream {
			timer.Stop() // the answer has begun; ctx bounds the rest
		}
		return resp, done, o, ""
	}
	defer done()
	if resp != nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		why := "answered " + resp.Status
		if resp.Header.Get(StoppingHeader) != "" {
			why += ", shutting down"
		}
		return nil, nil, o, why
	}
	return nil, nil, o, failureReason(err, context.Cause(actx), timeout+cl.wait)
}

// failureReason says briefly why a broker gave no answer.
func failureReason(err, cause error, limit time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(cause, errAttemptTimeout):
		return "no answer within " + limit.String()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in the time the request had"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "connection closed without an answer"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error() // net/http's error quotes the whole URL again
	}
	return err.Error()
}

// newTransport is the client's transport: the default one, with a short
// dial timeout so a vanished broker is left quickly.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	t.DialContext = d.DialContext
	return t
}
