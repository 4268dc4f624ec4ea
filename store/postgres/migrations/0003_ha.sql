-- HA pairs: the password of the replication user, and the hosts nodes run on.
ALTER TABLE addons ADD COLUMN repl_password TEXT NOT NULL DEFAULT '';

-- Hosts other than the broker's own in-process one: agents reached over HTTP.
CREATE TABLE hosts (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    token       TEXT NOT NULL,
    draining    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
