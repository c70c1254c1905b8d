-- Web UI sessions: the cookie's token is kept only as a SHA-256 hash.
CREATE TABLE ui_sessions (
    hash       TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    role       TEXT NOT NULL,
    key_id     TEXT NOT NULL DEFAULT '',
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
