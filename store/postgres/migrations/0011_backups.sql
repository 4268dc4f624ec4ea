-- Backups: each archive larder took of an add-on, and the add-ons' daily
-- schedules (as SQLite's 0011). A backup row outlives its add-on (restoring
-- a destroyed add-on's data into a new one is what backups are for); a
-- schedule goes with its add-on.
CREATE TABLE backups (
    num           BIGINT PRIMARY KEY,           -- the number users see, never reused
    id            TEXT NOT NULL UNIQUE,         -- 'b' (taken on demand) or 'a' (scheduled) + num: b007, a012
    addon_id      TEXT NOT NULL,
    addon_name    TEXT NOT NULL,
    app_id        TEXT NOT NULL,                -- the app that owned the add-on when it was taken
    label         TEXT NOT NULL DEFAULT '',
    scheduled     BOOLEAN NOT NULL DEFAULT FALSE,
    status        TEXT NOT NULL,                -- running, completed, failed
    verified      TEXT NOT NULL DEFAULT '',     -- '', verified, failed (the backup is bad), unverified (could not be checked)
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    size          BIGINT NOT NULL DEFAULT 0,
    duration_ms   BIGINT NOT NULL DEFAULT 0,
    source_node   TEXT NOT NULL DEFAULT '',
    source_role   TEXT NOT NULL DEFAULT '',
    keys          BIGINT NOT NULL DEFAULT 0,
    manifest      TEXT NOT NULL DEFAULT '',     -- the archive's manifest.json
    target_key    TEXT NOT NULL DEFAULT '',     -- the archive's name in the backup target
    error         TEXT NOT NULL DEFAULT '',
    operation_id  TEXT NOT NULL DEFAULT '',
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX backups_addon ON backups(addon_id, num);
CREATE INDEX backups_app ON backups(app_id, num);

-- The highest number a deleted backup had: numbers are never given twice.
CREATE TABLE backup_numbers (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    last  BIGINT NOT NULL
);
INSERT INTO backup_numbers (id, last) VALUES (1, 0);
CREATE FUNCTION backup_numbers_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE backup_numbers SET last = GREATEST(last, OLD.num) WHERE id = 1;
    RETURN NULL;
END $$;
CREATE TRIGGER backup_numbers_delete AFTER DELETE ON backups FOR EACH ROW EXECUTE FUNCTION backup_numbers_delete();

CREATE TABLE backup_schedules (
    addon_id    TEXT PRIMARY KEY REFERENCES addons(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,                  -- a daily time and zone: '02:00 UTC'
    retain      INTEGER NOT NULL,               -- scheduled backups kept
    last_run    TIMESTAMPTZ NOT NULL,           -- the last run, or when the schedule was set
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- The change feed shows backups (kind 'backup', subject the backup's id)
-- as they start, change status or verification, and go.
CREATE FUNCTION changes_backup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM larder_change('', OLD.addon_id, OLD.addon_name, 'backup', OLD.id);
    ELSE
        PERFORM larder_change('', NEW.addon_id, NEW.addon_name, 'backup', NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER changes_backup AFTER INSERT OR DELETE ON backups FOR EACH ROW EXECUTE FUNCTION changes_backup();
CREATE TRIGGER changes_backup_update AFTER UPDATE ON backups FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.verified IS DISTINCT FROM NEW.verified)
EXECUTE FUNCTION changes_backup();

-- A new add-on filled from a backup (addons:create … --restore ID): the
-- provision restores it once the nodes run, then marks it done.
CREATE TABLE backup_restores (
    addon_id    TEXT PRIMARY KEY REFERENCES addons(id) ON DELETE CASCADE,
    backup_id   TEXT NOT NULL,
    done        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL
);
