package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
)

// pathVarKinds maps each route variable of the Heroku-style API to the kind
// of name it holds, so every route checks its names by the same rules as the
// client does (package api).
var pathVarKinds = map[string]api.NameKind{
	"app":     api.AppName,
	"addon":   api.AddonRef,
	"name":    api.AddonRef, // an attachment, or a config var such as CACHE_URL
	"host":    api.HostName,
	"service": api.ServiceName,
	"id":      api.OperationID,
	"backup":  api.BackupID,
}

// decodePathVars unescapes the route variables: the router matches the
// escaped path (so "%2F" stays inside one segment) and handlers see names.
func decodePathVars(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		if len(vars) > 0 {
			decoded := make(map[string]string, len(vars))
			for k, v := range vars {
				if d, err := url.PathUnescape(v); err == nil {
					v = d
				}
				decoded[k] = v
			}
			r = mux.SetURLVars(r, decoded)
		}
		next.ServeHTTP(w, r)
	})
}

// checkPathNames answers 422, with the rule, for a route variable that is
// not a valid name of its kind.
func (b *API) checkPathNames(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range mux.Vars(r) {
			kind, ok := pathVarKinds[k]
			if !ok {
				kind = api.NameKind(k)
			}
			if err := api.CheckName(kind, v); err != nil {
				b.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkRawPath reports a path that no route matched because one of its
// segments is not a name at all (a dot segment, an empty one, white space):
// that is bad input (422), not a missing endpoint.
func checkRawPath(escaped string) error {
	segs := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	for i, seg := range segs {
		if seg == "" && i == len(segs)-1 {
			continue // a trailing slash
		}
		s, err := url.PathUnescape(seg)
		if err != nil {
			return fault.E(fault.Invalid, "invalid path segment %q: bad escape", seg)
		}
		if err := api.CheckSegment(s); err != nil {
			return err
		}
	}
	return nil
}
