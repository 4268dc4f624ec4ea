-- larder's schema. The store is the single source of truth: config vars of
-- add-ons are derived from attachments, nodes and credentials, never copied.

CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL
);

-- Vars users set with config:set. Add-on vars are derived, not stored here.
CREATE TABLE config_vars (
    app_id  TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (app_id, name)
);

CREATE TABLE addons (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL UNIQUE,
    service                 TEXT NOT NULL,
    plan                    TEXT NOT NULL,
    app_id                  TEXT NOT NULL REFERENCES apps(id),
    state                   TEXT NOT NULL,
    state_reason            TEXT NOT NULL DEFAULT '',
    maxmemory_policy        TEXT NOT NULL,
    timeout                 INTEGER NOT NULL DEFAULT 0,
    notify_keyspace_events  TEXT NOT NULL DEFAULT '',
    engine                  TEXT NOT NULL DEFAULT '',
    engine_version          TEXT NOT NULL DEFAULT '',
    admin_password          TEXT NOT NULL,
    customer_user           TEXT NOT NULL,
    customer_password       TEXT NOT NULL,
    epoch                   INTEGER NOT NULL DEFAULT 1,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);
CREATE INDEX addons_app ON addons(app_id);

-- An attachment gives an app config vars for an add-on; its name is the prefix.
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    addon_id    TEXT NOT NULL REFERENCES addons(id) ON DELETE CASCADE,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (app_id, name)
);
CREATE INDEX attachments_addon ON attachments(addon_id);

-- A node is one engine process. (host, port) is unique, so a port is claimed
-- here before any process binds it.
CREATE TABLE nodes (
    id          TEXT PRIMARY KEY,
    addon_id    TEXT NOT NULL REFERENCES addons(id) ON DELETE CASCADE,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    host        TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',
    port        INTEGER NOT NULL,
    dir         TEXT NOT NULL DEFAULT '',
    pid         INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    epoch       INTEGER NOT NULL DEFAULT 1,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (host, port)
);
CREATE INDEX nodes_addon ON nodes(addon_id);

-- Operations outlive their add-on (a finished destroy stays pollable).
CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    addon_id    TEXT NOT NULL,
    addon_name  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    progress    TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX operations_state ON operations(state);

-- Append-only history of what happened to an add-on.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    addon_id    TEXT NOT NULL,
    addon_name  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX events_addon ON events(addon_id, id);
