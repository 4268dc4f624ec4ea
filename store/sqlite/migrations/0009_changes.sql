-- The change feed: every change an app can see, numbered in commit order
-- (SQLite runs one writer at a time, so AUTOINCREMENT order is commit order).
-- Triggers write it in the transaction that makes the change, so nothing is
-- ever recorded that did not commit, and nothing that committed is missed,
-- whoever wrote it (this broker, another one on the same file, a migration).
-- A row says what changed, not to what: readers read the state again.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      TEXT NOT NULL DEFAULT '',  -- set for app-level changes (config vars, attachments, the app)
    addon_id    TEXT NOT NULL DEFAULT '',  -- set for add-on changes (its state, nodes, operations, events)
    addon_name  TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',  -- an operation or event id, an attachment name
    at          TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX changes_app ON changes(app_id, seq);
CREATE INDEX changes_addon ON changes(addon_id, seq);
CREATE INDEX changes_at ON changes(at);

-- The highest seq pruned so far: a reader whose cursor is below it missed
-- changes and must read the state again.
CREATE TABLE changes_pruned (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);
INSERT INTO changes_pruned (id, seq) VALUES (1, 0);

CREATE TRIGGER changes_config_insert AFTER INSERT ON config_vars BEGIN
    INSERT INTO changes (app_id, kind, subject) VALUES (NEW.app_id, 'config', NEW.name);
END;
CREATE TRIGGER changes_config_update AFTER UPDATE ON config_vars WHEN OLD.value IS NOT NEW.value BEGIN
    INSERT INTO changes (app_id, kind, subject) VALUES (NEW.app_id, 'config', NEW.name);
END;
CREATE TRIGGER changes_config_delete AFTER DELETE ON config_vars BEGIN
    INSERT INTO changes (app_id, kind, subject) VALUES (OLD.app_id, 'config', OLD.name);
END;

CREATE TRIGGER changes_attachment_insert AFTER INSERT ON attachments BEGIN
    INSERT INTO changes (app_id, addon_id, addon_name, kind, subject)
    VALUES (NEW.app_id, NEW.addon_id, COALESCE((SELECT name FROM addons WHERE id = NEW.addon_id), ''), 'attachment', NEW.name);
END;
CREATE TRIGGER changes_attachment_delete AFTER DELETE ON attachments BEGIN
    INSERT INTO changes (app_id, addon_id, addon_name, kind, subject)
    VALUES (OLD.app_id, OLD.addon_id, COALESCE((SELECT name FROM addons WHERE id = OLD.addon_id), ''), 'attachment', OLD.name);
END;

CREATE TRIGGER changes_addon_insert AFTER INSERT ON addons BEGIN
    INSERT INTO changes (addon_id, addon_name, kind) VALUES (NEW.id, NEW.name, 'addon');
END;
-- What an app sees of an add-on: its state, plan, settings, credentials and
-- roles (the epoch moves with every promotion).
CREATE TRIGGER changes_addon_update AFTER UPDATE ON addons
WHEN OLD.state IS NOT NEW.state OR OLD.state_reason IS NOT NEW.state_reason OR OLD.plan IS NOT NEW.plan
  OR OLD.name IS NOT NEW.name OR OLD.epoch IS NOT NEW.epoch
  OR OLD.customer_password IS NOT NEW.customer_password OR OLD.customer_password_alt IS NOT NEW.customer_password_alt
  OR OLD.maxmemory_policy IS NOT NEW.maxmemory_policy OR OLD.timeout IS NOT NEW.timeout
  OR OLD.notify_keyspace_events IS NOT NEW.notify_keyspace_events OR OLD.engine_version IS NOT NEW.engine_version
BEGIN
    INSERT INTO changes (addon_id, addon_name, kind) VALUES (NEW.id, NEW.name, 'addon');
END;
-- An add-on's owner app may have no attachment left to find it by.
CREATE TRIGGER changes_addon_delete AFTER DELETE ON addons BEGIN
    INSERT INTO changes (app_id, addon_id, addon_name, kind, subject) VALUES (OLD.app_id, OLD.id, OLD.name, 'addon', 'deleted');
END;

CREATE TRIGGER changes_node_insert AFTER INSERT ON nodes BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject)
    VALUES (NEW.addon_id, COALESCE((SELECT name FROM addons WHERE id = NEW.addon_id), ''), 'node', NEW.name);
END;
CREATE TRIGGER changes_node_update AFTER UPDATE ON nodes
WHEN OLD.role IS NOT NEW.role OR OLD.state IS NOT NEW.state OR OLD.port IS NOT NEW.port
  OR OLD.address IS NOT NEW.address OR OLD.host IS NOT NEW.host OR OLD.epoch IS NOT NEW.epoch
BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject)
    VALUES (NEW.addon_id, COALESCE((SELECT name FROM addons WHERE id = NEW.addon_id), ''), 'node', NEW.name);
END;
CREATE TRIGGER changes_node_delete AFTER DELETE ON nodes BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject)
    VALUES (OLD.addon_id, COALESCE((SELECT name FROM addons WHERE id = OLD.addon_id), ''), 'node', OLD.name);
END;

CREATE TRIGGER changes_operation_insert AFTER INSERT ON operations BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject) VALUES (NEW.addon_id, NEW.addon_name, 'operation', NEW.id);
END;
CREATE TRIGGER changes_operation_update AFTER UPDATE ON operations
WHEN OLD.state IS NOT NEW.state OR OLD.progress IS NOT NEW.progress OR OLD.error IS NOT NEW.error
BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject) VALUES (NEW.addon_id, NEW.addon_name, 'operation', NEW.id);
END;

CREATE TRIGGER changes_event_insert AFTER INSERT ON events BEGIN
    INSERT INTO changes (addon_id, addon_name, kind, subject) VALUES (NEW.addon_id, NEW.addon_name, 'event', CAST(NEW.id AS TEXT));
END;

CREATE TRIGGER changes_app_delete AFTER DELETE ON apps BEGIN
    INSERT INTO changes (app_id, kind) VALUES (OLD.id, 'app');
END;
