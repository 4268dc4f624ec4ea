-- Fork and follow: where an add-on's data comes from (as in SQLite's 0004).
--
-- A fork fills a new add-on from another server once, then the add-on stands
-- alone. The row outlives the fork so redis:info can say where the data came
-- from, but the source's password is emptied as soon as the fork is done.
-- A larder add-on as source (app::NAME) keeps no credentials at all: its
-- admin password is read from its own row when the fork runs.
CREATE TABLE forks (
    addon_id         TEXT PRIMARY KEY REFERENCES addons(id) ON DELETE CASCADE,
    source           TEXT NOT NULL,               -- the URL with its password masked, or app::NAME
    host             TEXT NOT NULL DEFAULT '',
    port             INTEGER NOT NULL DEFAULT 0,
    username         TEXT NOT NULL DEFAULT '',
    password         TEXT NOT NULL DEFAULT '',    -- a secret; emptied when the fork ends
    tls              BOOLEAN NOT NULL DEFAULT FALSE,
    skip_verify      BOOLEAN NOT NULL DEFAULT FALSE,
    source_addon_id  TEXT NOT NULL DEFAULT '',    -- a larder add-on as source
    state            TEXT NOT NULL,               -- pending, syncing, copying, done
    method           TEXT NOT NULL DEFAULT '',    -- sync or copy
    reason           TEXT NOT NULL DEFAULT '',    -- why the copy fallback was used
    bytes_done       BIGINT NOT NULL DEFAULT 0,
    bytes_total      BIGINT NOT NULL DEFAULT 0,
    keys_done        BIGINT NOT NULL DEFAULT 0,
    keys_total       BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ
);

-- A follower replicates from an external leader until it is unfollowed. The
-- password stays while it follows (a restarted node needs it), like every
-- other secret of the add-on.
CREATE TABLE follows (
    addon_id    TEXT PRIMARY KEY REFERENCES addons(id) ON DELETE CASCADE,
    leader      TEXT NOT NULL,                    -- the URL with its password masked
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    username    TEXT NOT NULL DEFAULT '',
    password    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
