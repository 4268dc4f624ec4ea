-- The add-on listing (GET /addons) is cached while the change feed's head
-- stays put, so every change to what a listing shows of an add-on must
-- write a change in its transaction (as SQLite's 0015). 0009's trigger
-- missed the service, the owner (a spare handed over under the name it
-- had), the engine alone, the creation time a hand-over sets, and a write
-- that moves only updated_at (a state or settings set again as they were):
-- a listing shows all of them. It still runs changes_addon(), so the kind
-- stays 'addon' and the feed's readers read the add-on again as before.
-- Every write of an add-on's row sets updated_at, so in effect every one is
-- a change now; a listing's other parts have triggers of their own
-- (attachments, 0009; the owner app's name never changes, its deletion is
-- recorded).
DROP TRIGGER changes_addon_update ON addons;
CREATE TRIGGER changes_addon_update AFTER UPDATE ON addons FOR EACH ROW
WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.state_reason IS DISTINCT FROM NEW.state_reason OR OLD.plan IS DISTINCT FROM NEW.plan
  OR OLD.name IS DISTINCT FROM NEW.name OR OLD.epoch IS DISTINCT FROM NEW.epoch
  OR OLD.customer_password IS DISTINCT FROM NEW.customer_password OR OLD.customer_password_alt IS DISTINCT FROM NEW.customer_password_alt
  OR OLD.maxmemory_policy IS DISTINCT FROM NEW.maxmemory_policy OR OLD.timeout IS DISTINCT FROM NEW.timeout
  OR OLD.notify_keyspace_events IS DISTINCT FROM NEW.notify_keyspace_events OR OLD.engine_version IS DISTINCT FROM NEW.engine_version
  OR OLD.service IS DISTINCT FROM NEW.service OR OLD.app_id IS DISTINCT FROM NEW.app_id OR OLD.engine IS DISTINCT FROM NEW.engine
  OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.updated_at IS DISTINCT FROM NEW.updated_at)
EXECUTE FUNCTION changes_addon();
