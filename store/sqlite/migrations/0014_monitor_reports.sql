-- The HA observers' reports (issue 16), as the brokers received them: every
-- broker records the reports sent to it and folds in every row, in id order,
-- so the coordinator counts every vote and a broker that takes the lease over
-- has seen them all. id never goes back (AUTOINCREMENT: not even after every
-- row was pruned). received_at is unix microseconds of the receiving
-- broker's clock; report is the api.MonitorReport as JSON. Not in the change
-- feed; the coordinator prunes old rows.
CREATE TABLE monitor_reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    broker_id    TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    location     TEXT    NOT NULL,
    observer     TEXT    NOT NULL,
    report       TEXT    NOT NULL
);
CREATE INDEX monitor_reports_received ON monitor_reports(received_at);
