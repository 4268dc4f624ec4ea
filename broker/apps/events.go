package apps

import (
	"context"
	"larder/api"
)

// listEvents answers an add-on's history, oldest first.
func (b *Apps) ListEvents(ctx context.Context, appName string, addonName string) ([]api.Event, error) {
	a, err := Resolve(ctx, b.store, appName, addonName)
	if err != nil {
		return nil, err
	}
	evs, err := b.store.EventsOfAddon(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, api.Event{ID: e.ID, AddonID: e.AddonID, AddonName: e.AddonName, Kind: e.Kind, Message: e.Message, CreatedAt: e.CreatedAt})
	}
	return out, nil
}
