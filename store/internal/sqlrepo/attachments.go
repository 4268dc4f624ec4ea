package sqlrepo

import (
	"cmp"
	"context"
	"slices"

	"larder/fault"
	"larder/store"
)

// attachmentCols selects an attachment with its add-on's and app's names,
// in attachments' order, scanned by hand like add-ons (a listing of 10 000
// add-ons reads as many).
const attachmentCols = `attachments.id, attachments.addon_id, attachments.app_id, attachments.name,
	attachments.created_at, addons.name, apps.name
	FROM attachments JOIN addons ON addons.id = attachments.addon_id JOIN apps ON apps.id = attachments.app_id`

// attachments reads the attachments query selects.
func (q attachmentRepo) attachments(ctx context.Context, query string, args ...any) ([]store.Attachment, error) {
	out, err := q.scanAttachments(ctx, query, args...)
	return out, q.d.reach(err)
}

func (q attachmentRepo) scanAttachments(ctx context.Context, query string, args ...any) ([]store.Attachment, error) {
	rows, err := q.x.QueryContext(ctx, q.d.rebind(`SELECT `+attachmentCols+` `+query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Attachment
	for rows.Next() {
		out = append(out, store.Attachment{})
		at := &out[len(out)-1]
		if err := rows.Scan(&at.ID, &at.AddonID, &at.AppID, &at.Name, &at.CreatedAt, &at.AddonName, &at.AppName); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// CreateAttachment inserts an attachment; a name already used on the app is a Conflict.
func (q attachmentRepo) CreateAttachment(ctx context.Context, at *store.Attachment) error {
	if at.ID == "" {
		at.ID = store.NewID()
	}
	at.CreatedAt = q.now()
	_, err := q.exec(ctx, `INSERT INTO attachments (id, addon_id, app_id, name, created_at) VALUES (?, ?, ?, ?, ?)`,
		at.ID, at.AddonID, at.AppID, at.Name, at.CreatedAt)
	if q.isUnique(err) {
		return fault.E(fault.Conflict, "attachment name %s is already used on this app", at.Name)
	}
	return err
}

// AttachmentsOfApp lists an app's attachments, by name.
func (q attachmentRepo) AttachmentsOfApp(ctx context.Context, appID string) ([]store.Attachment, error) {
	return q.attachments(ctx, `WHERE attachments.app_id = ? ORDER BY attachments.name`, appID)
}

// AttachmentsOfAddon lists an add-on's attachments on every app, by app,
// then name, in AttachmentsOfAddons' order (bytes, whatever the database's
// collation): a listing read again add-on by add-on shows what it showed.
func (q attachmentRepo) AttachmentsOfAddon(ctx context.Context, addonID string) ([]store.Attachment, error) {
	out, err := q.attachments(ctx, `WHERE attachments.addon_id = ?`, addonID)
	slices.SortFunc(out, byAddonAppName)
	return out, err
}

// AttachmentsOfAddons lists the attachments of the add-ons an app owns or
// is attached to (of every add-on when appID is ""), grouped by add-on (in
// the order of their ids), each add-on's by app, then name. They are sorted
// here, not by the database: grouped in its index's order, SQLite read the
// table in no order; sorted, PostgreSQL spent longer on it than on the join.
func (q attachmentRepo) AttachmentsOfAddons(ctx context.Context, appID string) ([]store.Attachment, error) {
	query, args := ``, []any(nil)
	if appID != "" {
		query, args = `WHERE attachments.addon_id IN
			(SELECT id FROM addons WHERE app_id = ? UNION SELECT addon_id FROM attachments WHERE app_id = ?)`, []any{appID, appID}
	}
	out, err := q.attachments(ctx, query, args...)
	slices.SortFunc(out, byAddonAppName)
	return out, err
}

// byAddonAppName orders attachments by add-on id, app, then name.
func byAddonAppName(a, b store.Attachment) int {
	return cmp.Or(cmp.Compare(a.AddonID, b.AddonID), cmp.Compare(a.AppName, b.AppName), cmp.Compare(a.Name, b.Name))
}

// Attachments lists every attachment.
func (q attachmentRepo) Attachments(ctx context.Context) ([]store.Attachment, error) {
	return q.attachments(ctx, `ORDER BY apps.name, attachments.name`)
}

// DeleteAttachment removes one attachment.
func (q attachmentRepo) DeleteAttachment(ctx context.Context, id string) error {
	return q.execOne(ctx, "attachment", `DELETE FROM attachments WHERE id = ?`, id)
}

// DeleteAttachmentsOfAddon removes every attachment of an add-on.
func (q attachmentRepo) DeleteAttachmentsOfAddon(ctx context.Context, addonID string) error {
	_, err := q.exec(ctx, `DELETE FROM attachments WHERE addon_id = ?`, addonID)
	return err
}
