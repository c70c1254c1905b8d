-- Monitoring: alerts (one row per rule and pipeline, its fingerprint),
-- the incidents they are correlated into, silences, and the outbox of
-- notifications (its id is the notification's idempotency key).
CREATE TABLE alerts (
    fingerprint  TEXT PRIMARY KEY,
    rule         TEXT NOT NULL,
    pipeline     TEXT NOT NULL,
    severity     TEXT NOT NULL,
    state        TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    labels       TEXT NOT NULL DEFAULT '{}',
    value        REAL NOT NULL DEFAULT 0,
    run_id       TEXT NOT NULL DEFAULT '',
    incident_id  TEXT NOT NULL DEFAULT '',
    active_at    INTEGER,
    fired_at     INTEGER,
    resolved_at  INTEGER,
    evaluated_at INTEGER
) STRICT;
CREATE INDEX alerts_by_state ON alerts (state, pipeline);
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    cause       TEXT NOT NULL,
    title       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    state       TEXT NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    alerts      INTEGER NOT NULL DEFAULT 0,
    opened_at   INTEGER,
    resolved_at INTEGER,
    acked_by    TEXT NOT NULL DEFAULT '',
    acked_at    INTEGER,
    notified_at INTEGER,
    notified    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX incidents_by_state ON incidents (state, opened_at);
CREATE TABLE silences (
    id         TEXT PRIMARY KEY,
    matchers   TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    starts_at  INTEGER,
    ends_at    INTEGER,
    created_at INTEGER
) STRICT;
CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL,
    receiver      TEXT NOT NULL,
    status        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER,
    claimed_by    TEXT NOT NULL DEFAULT '',
    claimed_until INTEGER,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    INTEGER,
    sent_at       INTEGER
) STRICT;
CREATE INDEX notifications_due ON notifications (status, next_at);
CREATE INDEX notifications_by_incident ON notifications (incident_id);
