-- OpenLineage run events, as emitted: one row per event.
CREATE TABLE lineage_events (
    id         BIGSERIAL PRIMARY KEY,
    run_id     TEXT NOT NULL,
    job        TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_time TIMESTAMPTZ,
    payload    TEXT NOT NULL
);

CREATE INDEX lineage_by_job ON lineage_events (job, id);
