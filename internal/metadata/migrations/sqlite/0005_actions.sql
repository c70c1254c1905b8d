-- Every healing action: what was wrong, what was done, how sure, and what came of it.
CREATE TABLE healing_actions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL,
    pipeline      TEXT NOT NULL,
    object_key    TEXT NOT NULL DEFAULT '',
    issue         TEXT NOT NULL,
    category      TEXT NOT NULL,
    confidence    REAL NOT NULL,
    decided_by    TEXT NOT NULL,
    strategy      TEXT NOT NULL,
    params        TEXT NOT NULL DEFAULT '{}',
    rows_affected INTEGER NOT NULL DEFAULT 0,
    before        TEXT NOT NULL DEFAULT '[]',
    after         TEXT NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL,
    approved_by   TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL DEFAULT '',
    created_at    INTEGER
) STRICT;
CREATE INDEX healing_actions_by_run ON healing_actions (run_id);
