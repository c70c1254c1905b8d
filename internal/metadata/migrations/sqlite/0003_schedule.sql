-- A run's logical date (the start of the data interval it covers), what
-- started it and which attempt it is.
ALTER TABLE runs ADD COLUMN logical_date INTEGER;
ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;

-- One row per pipeline interval a scheduler took: the primary key makes
-- sure two schedulers never run the same interval.
CREATE TABLE schedule_claims (
    pipeline     TEXT NOT NULL,
    logical_date INTEGER NOT NULL,
    owner        TEXT NOT NULL,
    run_id       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    claimed_at   INTEGER,
    updated_at   INTEGER,
    PRIMARY KEY (pipeline, logical_date)
) STRICT;

CREATE TABLE pipeline_state (
    pipeline   TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER
) STRICT;
