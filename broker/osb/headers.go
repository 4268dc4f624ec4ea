package osb

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"larder/broker/osbsvc"
	"larder/fault"
)

// This file reads what an OSB request carries besides its body: the version
// and identity headers, query parameters and the ids in the URL.

// osbMinMinor is the oldest 2.x minor version accepted; platforms speaking
// an older one get 412.
const osbMinMinor = 13

// checkAPIVersion accepts 2.13 and newer 2.x versions (minor versions of the
// spec are backward compatible) and refuses anything else with 412.
func checkAPIVersion(v string) error {
	v = strings.TrimSpace(v)
	major, minor, ok := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if v == "" || !ok || err1 != nil || err2 != nil || ma != 2 || mi < osbMinMinor || strings.HasPrefix(minor, "+") {
		shown := "none"
		if v != "" {
			shown = strconv.Quote(truncateText(v, 32))
		}
		return osbErr(http.StatusPreconditionFailed, "PreconditionFailed",
			"unsupported %s %s: this broker speaks 2.%d to 2.17", osbVersionHeader, shown, osbMinMinor)
	}
	return nil
}

// originOf reads X-Broker-API-Originating-Identity ("platform base64(JSON
// object)") into a line for the add-on's event log; "" when the header is
// absent. A malformed header is a 400.
func originOf(r *http.Request) (string, error) {
	return parseOrigin(r.Header.Get(osbIdentityHeader))
}

func parseOrigin(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	bad := func(why string) error {
		return fault.E(fault.BadRequest, "malformed %s: %s; use PLATFORM BASE64-JSON", osbIdentityHeader, why)
	}
	platform, value, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || platform == "" || strings.TrimSpace(value) == "" {
		return "", bad("want a platform and a value")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(value)); err != nil {
			return "", bad("the value is not base64")
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return "", bad("the value is not a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return "", bad("the value is not a JSON object")
	}
	return truncateText(osbsvc.SafeText(platform)+" "+compact.String(), 512), nil
}

// acceptsIncomplete reads the accepts_incomplete query parameter.
func acceptsIncomplete(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("accepts_incomplete")
	if v == "" {
		return false, nil
	}
	ok, err := strconv.ParseBool(v)
	if err != nil {
		return false, fault.E(fault.BadRequest, "accepts_incomplete must be true or false, not %q", truncateText(v, 16))
	}
	return ok, nil
}

// deleteRequest reads what a delete carries: accepts_incomplete, and the
// service_id (and plan_id) it must name.
func deleteRequest(r *http.Request) (async bool, serviceID string, err error) {
	if async, err = acceptsIncomplete(r); err == nil {
		serviceID, _, err = deleteQuery(r)
	}
	return async, serviceID, err
}

// deleteQuery reads the service_id and plan_id a delete must carry.
func deleteQuery(r *http.Request) (serviceID, planID string, err error) {
	q := r.URL.Query()
	serviceID, planID = q.Get("service_id"), q.Get("plan_id")
	if serviceID == "" || planID == "" {
		return "", "", fault.E(fault.BadRequest, "service_id and plan_id query parameters are required")
	}
	return serviceID, planID, nil
}

// checkResourceID validates an instance or binding id from the URL.
func checkResourceID(kind, id string) error {
	if id == "" || len(id) > 255 || strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fault.E(fault.BadRequest, "invalid %s id: use 1-255 printable characters, a GUID is best", kind)
	}
	return nil
}

// truncateText shortens s to n bytes (on a rune boundary) for messages.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// safeText drops control characters from text that goes into logs and events.
func safeText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
