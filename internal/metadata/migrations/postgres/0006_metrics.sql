-- Per-run metrics for anomaly detection (null rate per column, quality score), as JSON.
ALTER TABLE runs ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}';
