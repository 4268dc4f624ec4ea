-- Sampled metrics of nodes (broker/metrics): one row per node, step and
-- time bucket, holding sums over count samples and peaks, so that samples
-- fold into a bucket with one upsert and a coarser step is the sum of the
-- finer samples. Times are integer unix seconds. Rows of each step are
-- pruned past its retention; they are not in the change feed.
CREATE TABLE metric_points (
    node_id        TEXT    NOT NULL,
    step           BIGINT  NOT NULL,
    at             BIGINT  NOT NULL,
    addon_id       TEXT    NOT NULL,
    role           TEXT    NOT NULL DEFAULT '',
    count          BIGINT  NOT NULL,
    memory_used    DOUBLE PRECISION NOT NULL DEFAULT 0,
    memory_peak    DOUBLE PRECISION NOT NULL DEFAULT 0,
    memory_limit   DOUBLE PRECISION NOT NULL DEFAULT 0,
    cpu            DOUBLE PRECISION NOT NULL DEFAULT 0,
    clients        DOUBLE PRECISION NOT NULL DEFAULT 0,
    clients_peak   DOUBLE PRECISION NOT NULL DEFAULT 0,
    clients_limit  DOUBLE PRECISION NOT NULL DEFAULT 0,
    ops            DOUBLE PRECISION NOT NULL DEFAULT 0,
    hits           DOUBLE PRECISION NOT NULL DEFAULT 0,
    misses         DOUBLE PRECISION NOT NULL DEFAULT 0,
    evicted        DOUBLE PRECISION NOT NULL DEFAULT 0,
    expired        DOUBLE PRECISION NOT NULL DEFAULT 0,
    repl_lag       DOUBLE PRECISION NOT NULL DEFAULT 0,
    repl_offset    DOUBLE PRECISION NOT NULL DEFAULT 0,
    persist_fails  DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (node_id, step, at)
);
CREATE INDEX metric_points_addon ON metric_points(addon_id, step, at);
CREATE INDEX metric_points_prune ON metric_points(step, at);
