-- Diagnosis models, by version; at most one is active.
CREATE TABLE healing_models (
    version    INTEGER PRIMARY KEY,
    created_at TIMESTAMPTZ,
    metrics    TEXT NOT NULL,
    model      TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT FALSE
);

-- Labeled examples from feedback: approvals, rejections, reverts.
CREATE TABLE healing_examples (
    id         BIGSERIAL PRIMARY KEY,
    example    TEXT NOT NULL,
    created_at TIMESTAMPTZ
);
