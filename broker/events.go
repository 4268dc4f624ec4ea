package broker

import (
	"net/http"

	"github.com/gorilla/mux"

	"larder/api"
)

// listEvents answers an add-on's history, oldest first.
func (b *Broker) listEvents(r *http.Request) (int, any, error) {
	ctx := r.Context()
	a, err := b.resolveAddon(ctx, b.store, mux.Vars(r)["app"], mux.Vars(r)["addon"])
	if err != nil {
		return 0, nil, err
	}
	evs, err := b.store.EventsOfAddon(ctx, a.ID)
	if err != nil {
		return 0, nil, err
	}
	out := make([]api.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, api.Event{ID: e.ID, AddonID: e.AddonID, AddonName: e.AddonName, Kind: e.Kind, Message: e.Message, CreatedAt: e.CreatedAt})
	}
	return http.StatusOK, out, nil
}
