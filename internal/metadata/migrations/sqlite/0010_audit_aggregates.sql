-- Refused anonymous writes are aggregated: one entry per client address and
-- reason per window, counting the requests it stands for (occurrences,
-- the last at last_seen_at); detail says why they were refused. The
-- indexes serve listings by caller and pruning by age.
ALTER TABLE api_audit ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE api_audit ADD COLUMN last_seen_at INTEGER;
CREATE INDEX api_audit_by_principal ON api_audit (principal, id);
CREATE INDEX api_audit_by_time ON api_audit (at);
