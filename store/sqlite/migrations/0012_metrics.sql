-- Sampled metrics of nodes (broker/metrics): one row per node, step and
-- time bucket, holding sums over count samples and peaks, so that samples
-- fold into a bucket with one upsert and a coarser step is the sum of the
-- finer samples. Times are integer unix seconds. Rows of each step are
-- pruned past its retention; they are not in the change feed.
CREATE TABLE metric_points (
    node_id        TEXT    NOT NULL,
    step           INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    addon_id       TEXT    NOT NULL,
    role           TEXT    NOT NULL DEFAULT '',
    count          INTEGER NOT NULL,
    memory_used    REAL    NOT NULL DEFAULT 0,
    memory_peak    REAL    NOT NULL DEFAULT 0,
    memory_limit   REAL    NOT NULL DEFAULT 0,
    cpu            REAL    NOT NULL DEFAULT 0,
    clients        REAL    NOT NULL DEFAULT 0,
    clients_peak   REAL    NOT NULL DEFAULT 0,
    clients_limit  REAL    NOT NULL DEFAULT 0,
    ops            REAL    NOT NULL DEFAULT 0,
    hits           REAL    NOT NULL DEFAULT 0,
    misses         REAL    NOT NULL DEFAULT 0,
    evicted        REAL    NOT NULL DEFAULT 0,
    expired        REAL    NOT NULL DEFAULT 0,
    repl_lag       REAL    NOT NULL DEFAULT 0,
    repl_offset    REAL    NOT NULL DEFAULT 0,
    persist_fails  REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (node_id, step, at)
);
CREATE INDEX metric_points_addon ON metric_points(addon_id, step, at);
CREATE INDEX metric_points_prune ON metric_points(step, at);
