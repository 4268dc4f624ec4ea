package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/internal/httpjson"
)

// getEdgeAccess answers GET /apps/{app}/redis/{addon}/access: the add-on's
// allowlist at the edge and whether it takes TLS connections only.
func (b *API) getEdgeAccess(r *http.Request) (int, any, error) {
	out, err := b.b.Settings.EdgeAccess(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
	return http.StatusOK, out, err
}

// patchEdgeAccess answers PATCH /apps/{app}/redis/{addon}/access with
// {"add": [CIDR…], "remove": [CIDR…], "tls_only": bool}.
func (b *API) patchEdgeAccess(r *http.Request) (int, any, error) {
	var p api.EdgeAccessPatch
	if err := httpjson.Decode(r, &p, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Settings.ChangeEdgeAccess(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], p)
	return http.StatusOK, out, err
}
