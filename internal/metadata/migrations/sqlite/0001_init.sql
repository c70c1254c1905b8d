-- Times are INTEGER microseconds since the Unix epoch (UTC); NULL is unset.
-- Booleans are INTEGER 0 or 1.

CREATE TABLE pipelines (
    name       TEXT PRIMARY KEY,
    source     TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    mode       TEXT NOT NULL DEFAULT '',
    schedule   TEXT NOT NULL DEFAULT '',
    updated_at INTEGER
) STRICT;

CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    pipeline          TEXT NOT NULL,
    status            TEXT NOT NULL,
    started_at        INTEGER,
    ended_at          INTEGER,
    rows_in           INTEGER NOT NULL DEFAULT 0,
    rows_loaded       INTEGER NOT NULL DEFAULT 0,
    rows_quarantined  INTEGER NOT NULL DEFAULT 0,
    rows_deduplicated INTEGER NOT NULL DEFAULT 0,
    objects           INTEGER NOT NULL DEFAULT 0,
    bytes             INTEGER NOT NULL DEFAULT 0,
    invariant_ok      INTEGER NOT NULL DEFAULT 0 CHECK (invariant_ok IN (0, 1)),
    error             TEXT NOT NULL DEFAULT '',
    full_refresh      INTEGER NOT NULL DEFAULT 0 CHECK (full_refresh IN (0, 1))
) STRICT;

CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_pipeline ON runs (pipeline, started_at);
CREATE INDEX runs_by_status ON runs (status, started_at);

CREATE TABLE task_attempts (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task              TEXT NOT NULL,
    attempt           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    started_at        INTEGER,
    ended_at          INTEGER,
    error             TEXT NOT NULL DEFAULT '',
    rows_in           INTEGER NOT NULL DEFAULT 0,
    rows_loaded       INTEGER NOT NULL DEFAULT 0,
    rows_quarantined  INTEGER NOT NULL DEFAULT 0,
    rows_deduplicated INTEGER NOT NULL DEFAULT 0,
    detail            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, task, attempt)
) STRICT;

-- run_id is deliberately not a foreign key: an object recovered from the
-- warehouse ledger names the run that committed it, which this store may
-- never have seen.
CREATE TABLE objects (
    pipeline         TEXT NOT NULL,
    object_key       TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    size             INTEGER NOT NULL DEFAULT 0,
    run_id           TEXT NOT NULL,
    processed_at     INTEGER,
    rows_in          INTEGER NOT NULL DEFAULT 0,
    rows_loaded      INTEGER NOT NULL DEFAULT 0,
    rows_quarantined INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pipeline, object_key, fingerprint)
) STRICT;

CREATE TABLE watermarks (
    pipeline   TEXT NOT NULL,
    wm_key     TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER,
    PRIMARY KEY (pipeline, wm_key)
) STRICT;
