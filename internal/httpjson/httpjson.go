// Package httpjson is the one place where larder's HTTP servers turn results
// into answers: the fault-kind → HTTP status map (and its inverse, for
// clients reading an answer without a kind), the JSON writer, and the
// adapter that keeps handlers to their logic. The broker's API, its Open
// Service Broker API (with its own error body) and the agent all use it, so
// one kind never gets two statuses.
package httpjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"larder/fault"
)

// statuses maps each fault kind to its HTTP status; kinds not listed (and
// errors without a kind) are 500.
var statuses = map[fault.Kind]int{
	fault.BadRequest:   http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.NotFound:     http.StatusNotFound,
	fault.Conflict:     http.StatusConflict,
	fault.Invalid:      http.StatusUnprocessableEntity,
	fault.Ambiguous:    http.StatusUnprocessableEntity,
	fault.Confirmation: http.StatusUnprocessableEntity,
	fault.Unavailable:  http.StatusServiceUnavailable,
	fault.TooMany:      http.StatusTooManyRequests,
}

// Status is the HTTP status of an error of kind k.
func Status(k fault.Kind) int {
	if s, ok := statuses[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// KindFor is the fault kind an answer with this status stands for, when
// its body names none (a proxy's page, an older server): the inverse of
// Status, where 422 reads as Invalid and 403 as Unauthorized.
func KindFor(status int) fault.Kind {
	switch status {
	case http.StatusForbidden:
		return fault.Unauthorized
	case http.StatusUnprocessableEntity:
		return fault.Invalid
	}
	for k, s := range statuses {
		if s == status && s != http.StatusUnprocessableEntity {
			return k
		}
	}
	return fault.Internal
}

// Write answers status with v as indented JSON (people read these with curl).
// The bytes are encoding/json's (its v1 options), written by the JSON v2
// encoder, which indents as it goes: encoding/json indents a second pass
// over the whole answer, and that pass cost 100 ms of a listing of 10 000
// add-ons against 20 ms for this. They go out in writes of 64 kB: written
// as the encoder flushes, a listing of 10 MB took a system call per 4 kB.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 64<<10)
	// The client hung up if this fails; nobody is left to tell.
	if EncodeTo(bw, v) == nil {
		bw.Flush()
	}
}

// EncodeTo writes to w the body Write answers with for v. Encoded as it
// goes, a body is never whole in memory: `larder addons --json` of 10 000
// add-ons (11 MB) spent more time growing a buffer than encoding.
func EncodeTo(w io.Writer, v any) error {
	if err := jsonv2.MarshalWrite(w, v, jsonv1.DefaultOptionsV1(), jsontext.WithIndent("  ")); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// List is a listing's answer already encoded (by Encode), written as it
// is, and how many items it holds, answered as X-Total-Count: a client can
// make room for them all before it decodes (growing a slice of 10 000 as
// they came was a fifth of `larder addons`).
type List struct {
	Body  []byte
	Count int
}

// CountHeader names the header that says how many items a List holds.
const CountHeader = "X-Total-Count"

// Encode is the body Write answers with for v, whole; compact leaves the
// indentation out (the bytes JoinItems makes of the items of a list).
func Encode(v any, compact bool) ([]byte, error) {
	var b bytes.Buffer
	if !compact {
		err := EncodeTo(&b, v)
		return b.Bytes(), err
	}
	if err := jsonv2.MarshalWrite(&b, v, jsonv1.DefaultOptionsV1()); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// EncodeItem is v as Encode writes it as an item of a list: indented one
// level in (its first line aside), or compact.
func EncodeItem(v any, compact bool) ([]byte, error) {
	if compact {
		return jsonv2.Marshal(v, jsonv1.DefaultOptionsV1())
	}
	return jsonv2.Marshal(v, jsonv1.DefaultOptionsV1(), jsontext.WithIndent("  "), jsontext.WithIndentPrefix("  "))
}

// JoinItems is the body Encode writes for a list (a non-nil slice) of the
// items EncodeItem encoded, in order, compact or not as they are: the same
// bytes, without encoding an item again.
func JoinItems(items [][]byte, compact bool) []byte {
	if len(items) == 0 {
		return []byte("[]\n")
	}
	open, sep, end := "[\n  ", ",\n  ", "\n]\n"
	if compact {
		open, sep, end = "[", ",", "]\n"
	}
	n := len(open) + len(end) + len(sep)*(len(items)-1)
	for _, it := range items {
		n += len(it)
	}
	b := make([]byte, 0, n)
	b = append(b, open...)
	for i, it := range items {
		if i > 0 {
			b = append(b, sep...)
		}
		b = append(b, it...)
	}
	return append(b, end...)
}

// Reply answers status with body, or with no body at all when body is nil.
func Reply(w http.ResponseWriter, status int, body any) {
	switch list, isList := body.(List); {
	case body == nil:
		w.WriteHeader(status)
	case isList:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(list.Body)))
		w.Header().Set(CountHeader, strconv.Itoa(list.Count))
		w.WriteHeader(status)
		w.Write(list.Body) // the client hung up if this fails; nobody is left to tell
	default:
		Write(w, status, body)
	}
}

// Endpoint is a handler that returns what to answer: a status and a body
// (nil for none), or an error for the server's error writer.
type Endpoint func(r *http.Request) (status int, body any, err error)

// Serve adapts an Endpoint to net/http: errors go to fail, which writes them
// in the API's own error shape (with Status for their status).
func Serve(fn Endpoint, fail func(http.ResponseWriter, *http.Request, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := fn(r)
		if err != nil {
			fail(w, r, err)
			return
		}
		Reply(w, status, body)
	}
}

// Recorder is a ResponseWriter that remembers the status written, for
// request logs and for middleware that acts on success.
type Recorder struct {
	http.ResponseWriter
	Status int
}

// NewRecorder wraps w; a handler that never calls WriteHeader answered 200.
func NewRecorder(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records code and passes it on.
func (r *Recorder) WriteHeader(code int) {
	r.Status = code
	r.ResponseWriter.WriteHeader(code)
}

// MaxBody bounds request bodies; larder's requests are small.
const MaxBody = 1 << 20

// Decode reads a JSON body into v. An empty body leaves v as it is when
// optional; malformed JSON is a BadRequest that says where it broke.
func Decode(r *http.Request, v any, optional bool) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return fault.Wrap(fault.BadRequest, err, "could not read the request body")
	}
	if len(data) > MaxBody {
		return fault.E(fault.BadRequest, "request body larger than %d bytes", MaxBody)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if optional {
			return nil
		}
		return fault.E(fault.BadRequest, "a JSON request body is required")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fault.E(fault.BadRequest, "malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return fault.E(fault.BadRequest, "malformed JSON: field %q must be %s, not %s", te.Field, te.Type, te.Value)
		}
		return fault.E(fault.BadRequest, "malformed JSON: %v", err)
	}
	return nil
}

// Unwrap gives http.ResponseController the writer underneath, so a
// streaming handler can still flush through the recorder.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
