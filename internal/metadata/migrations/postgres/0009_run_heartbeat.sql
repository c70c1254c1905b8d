-- Who runs a run and when it last said so: the process running it (its
-- owner, host/pid/random) refreshes heartbeat_at while the run goes on. A
-- running run whose heartbeat is older than its lease (lease_ms; the
-- default lease when 0) was abandoned by a process that died, and any shp
-- process that sees it marks it failed. A NULL heartbeat_at is a run nobody
-- heartbeats.
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN lease_ms BIGINT NOT NULL DEFAULT 0;

-- Runs left running before runs had heartbeats count from their start.
UPDATE runs SET heartbeat_at = started_at WHERE status = 'running';
