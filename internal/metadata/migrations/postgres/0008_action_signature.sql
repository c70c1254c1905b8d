-- One open escalation per issue: a repeat of the same issue (its signature)
-- counts on the open action instead of adding another.
ALTER TABLE healing_actions ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE healing_actions ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE healing_actions ADD COLUMN last_seen_at TIMESTAMPTZ;
CREATE INDEX healing_actions_by_signature ON healing_actions (pipeline, signature, status);
