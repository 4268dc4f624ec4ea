package httpapi

import (
	"net/http"

	"larder/broker/ui"
)

// dashboard is the web dashboard (package broker/ui) over the same services
// as the API; its live view reads the API's change feed behind its session.
func (b *API) dashboard() http.Handler {
	return ui.New(ui.Deps{
		Apps: b.b.Apps, Addons: b.b.Addons, Settings: b.b.Settings, Pairs: b.b.Pairs,
		Metrics: b.b.Metrics, Feed: b.b.Changes,
		Changes:      b.appChanges,
		Sessions:     b.b.Store(),
		TokenMatches: b.b.TokenMatches,
		Log:          b.log.WithField("component", "ui"),
	}, b.ui).Handler()
}
