-- OpenLineage run events, as emitted: one row per event.
CREATE TABLE lineage_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL,
    job        TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_time INTEGER,
    payload    TEXT NOT NULL
) STRICT;

CREATE INDEX lineage_by_job ON lineage_events (job, id);
