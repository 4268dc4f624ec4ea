-- The coordinator lease (issue 16): one row saying which broker coordinates
-- (runs the HA reconciler, takes over other brokers' operations, runs the
-- schedules, the spares pool, the metrics sampler and pruning) until when.
-- token grows at every new tenure; a coordinator's writes check it in their
-- own transaction, so one that lost the lease cannot write. Times are unix
-- milliseconds of the brokers' clocks. holder '' is no holder.
CREATE TABLE coordinator_lease (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    holder       TEXT    NOT NULL DEFAULT '',
    token        BIGINT  NOT NULL DEFAULT 0,
    acquired_at  BIGINT  NOT NULL DEFAULT 0,
    expires_at   BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO coordinator_lease (id) VALUES (1);

-- The brokers sharing the store: registered at start, last_seen raised at
-- each lease round while they run (larder brokers lists them).
CREATE TABLE brokers (
    id          TEXT    PRIMARY KEY,
    url         TEXT    NOT NULL DEFAULT '',
    version     TEXT    NOT NULL DEFAULT '',
    started_at  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL
);
