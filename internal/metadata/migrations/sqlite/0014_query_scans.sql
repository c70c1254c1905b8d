-- What each recorded query read: rows its scans read (DuckDB's profiler)
-- and bytes billed (BigQuery), beside bytes_scanned.
ALTER TABLE query_history ADD COLUMN rows_scanned BIGINT NOT NULL DEFAULT 0;
ALTER TABLE query_history ADD COLUMN bytes_billed BIGINT NOT NULL DEFAULT 0;
