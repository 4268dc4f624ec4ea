-- The dashboard's sessions (broker/ui), shared by every broker on the store:
-- a browser logged in through one broker is logged in on all of them, and
-- stays so across a broker's restart. key_hash is the SHA-256 of the
-- session's id, never the id (the cookie's secret). expires_at is unix
-- microseconds by the dashboard's clock. flash_kind and flash_text are the
-- one-time message for the session's next page, '' when there is none. Not
-- in the change feed.
CREATE TABLE dashboard_sessions (
    key_hash    TEXT    PRIMARY KEY,
    csrf        TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    flash_kind  TEXT    NOT NULL DEFAULT '',
    flash_text  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions(expires_at);
