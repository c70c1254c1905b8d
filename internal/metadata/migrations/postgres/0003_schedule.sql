-- A run's logical date (the start of the data interval it covers), what
-- started it and which attempt it is.
ALTER TABLE runs ADD COLUMN logical_date TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;

-- One row per pipeline interval a scheduler took: the primary key makes
-- sure two schedulers never run the same interval.
CREATE TABLE schedule_claims (
    pipeline     TEXT NOT NULL,
    logical_date TIMESTAMPTZ NOT NULL,
    owner        TEXT NOT NULL,
    run_id       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    claimed_at   TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ,
    PRIMARY KEY (pipeline, logical_date)
);

CREATE TABLE pipeline_state (
    pipeline   TEXT PRIMARY KEY,
    paused     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ
);
