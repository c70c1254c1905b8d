-- Queries run against the warehouse, for the optimisation layer.
CREATE TABLE query_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    source        TEXT NOT NULL,
    pipeline      TEXT NOT NULL DEFAULT '',
    run_id        TEXT NOT NULL DEFAULT '',
    text          TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    duration_ns   INTEGER NOT NULL DEFAULT 0,
    rows_out      INTEGER NOT NULL DEFAULT 0,
    bytes_scanned INTEGER NOT NULL DEFAULT 0,
    calls         INTEGER NOT NULL DEFAULT 1,
    error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX query_history_by_time ON query_history (at);
CREATE INDEX query_history_by_fingerprint ON query_history (fingerprint);
-- Layout changes the optimisation layer proposed, tried, applied or reverted.
CREATE TABLE optimizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    table_name  TEXT NOT NULL,
    rule        TEXT NOT NULL,
    change      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL,
    undo        TEXT NOT NULL DEFAULT '',
    decided_by  TEXT NOT NULL DEFAULT '',
    decided_at  INTEGER,
    reason      TEXT NOT NULL DEFAULT ''
);
