-- Diagnosis models, by version; at most one is active.
CREATE TABLE healing_models (
    version    INTEGER PRIMARY KEY,
    created_at INTEGER,
    metrics    TEXT NOT NULL,
    model      TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Labeled examples from feedback: approvals, rejections, reverts.
CREATE TABLE healing_examples (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    example    TEXT NOT NULL,
    created_at INTEGER
) STRICT;
