-- API keys: shown once when created, stored only as a SHA-256 hash of the secret.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
-- Every write through the API: who, what, when, from where.
CREATE TABLE api_audit (
    id        BIGSERIAL PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    principal TEXT NOT NULL,
    role      TEXT NOT NULL,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    status    INTEGER NOT NULL,
    remote    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT ''
);
-- Quality rules added through the API or the CLI, beside quality_rules.yaml's.
CREATE TABLE quality_rules (
    id         BIGSERIAL PRIMARY KEY,
    pipeline   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX healing_actions_by_pipeline ON healing_actions (pipeline, id);
