-- Times are timestamptz (microsecond precision); NULL is unset.

CREATE TABLE pipelines (
    name       TEXT PRIMARY KEY,
    source     TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    mode       TEXT NOT NULL DEFAULT '',
    schedule   TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ
);

CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    pipeline          TEXT NOT NULL,
    status            TEXT NOT NULL,
    started_at        TIMESTAMPTZ,
    ended_at          TIMESTAMPTZ,
    rows_in           BIGINT NOT NULL DEFAULT 0,
    rows_loaded       BIGINT NOT NULL DEFAULT 0,
    rows_quarantined  BIGINT NOT NULL DEFAULT 0,
    rows_deduplicated BIGINT NOT NULL DEFAULT 0,
    objects           BIGINT NOT NULL DEFAULT 0,
    bytes             BIGINT NOT NULL DEFAULT 0,
    invariant_ok      BOOLEAN NOT NULL DEFAULT FALSE,
    error             TEXT NOT NULL DEFAULT '',
    full_refresh      BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_pipeline ON runs (pipeline, started_at);
CREATE INDEX runs_by_status ON runs (status, started_at);

CREATE TABLE task_attempts (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task              TEXT NOT NULL,
    attempt           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    started_at        TIMESTAMPTZ,
    ended_at          TIMESTAMPTZ,
    error             TEXT NOT NULL DEFAULT '',
    rows_in           BIGINT NOT NULL DEFAULT 0,
    rows_loaded       BIGINT NOT NULL DEFAULT 0,
    rows_quarantined  BIGINT NOT NULL DEFAULT 0,
    rows_deduplicated BIGINT NOT NULL DEFAULT 0,
    detail            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, task, attempt)
);

-- run_id is deliberately not a foreign key: an object recovered from the
-- warehouse ledger names the run that committed it, which this store may
-- never have seen.
CREATE TABLE objects (
    pipeline         TEXT NOT NULL,
    object_key       TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    size             BIGINT NOT NULL DEFAULT 0,
    run_id           TEXT NOT NULL,
    processed_at     TIMESTAMPTZ,
    rows_in          BIGINT NOT NULL DEFAULT 0,
    rows_loaded      BIGINT NOT NULL DEFAULT 0,
    rows_quarantined BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (pipeline, object_key, fingerprint)
);

CREATE TABLE watermarks (
    pipeline   TEXT NOT NULL,
    wm_key     TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (pipeline, wm_key)
);
