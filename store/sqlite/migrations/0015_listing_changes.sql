-- The add-on listing (GET /addons) is cached while the change feed's head
-- stays put, so every change to what a listing shows of an add-on must
-- write a change in its transaction. 0009's trigger missed the service, the
-- owner (a spare handed over under the name it had), the engine alone, the
-- creation time a hand-over sets, and a write that moves only updated_at (a
-- state or settings set again as they were): a listing shows all of them.
-- The kind stays 'addon', so the feed's readers read the add-on again as
-- before. Every write of an add-on's row sets updated_at, so in effect every
-- one is a change now; a listing's other parts have triggers of their own
-- (attachments, 0009; the owner app's name never changes, its deletion is
-- recorded).
DROP TRIGGER changes_addon_update;
CREATE TRIGGER changes_addon_update AFTER UPDATE ON addons
WHEN OLD.state IS NOT NEW.state OR OLD.state_reason IS NOT NEW.state_reason OR OLD.plan IS NOT NEW.plan
  OR OLD.name IS NOT NEW.name OR OLD.epoch IS NOT NEW.epoch
  OR OLD.customer_password IS NOT NEW.customer_password OR OLD.customer_password_alt IS NOT NEW.customer_password_alt
  OR OLD.maxmemory_policy IS NOT NEW.maxmemory_policy OR OLD.timeout IS NOT NEW.timeout
  OR OLD.notify_keyspace_events IS NOT NEW.notify_keyspace_events OR OLD.engine_version IS NOT NEW.engine_version
  OR OLD.service IS NOT NEW.service OR OLD.app_id IS NOT NEW.app_id OR OLD.engine IS NOT NEW.engine
  OR OLD.created_at IS NOT NEW.created_at OR OLD.updated_at IS NOT NEW.updated_at
BEGIN
    INSERT INTO changes (addon_id, addon_name, kind) VALUES (NEW.id, NEW.name, 'addon');
END;
