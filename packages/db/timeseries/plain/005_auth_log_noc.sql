-- The NOC's auth-log page reads the newest attempts across all routers (optionally one
-- router, or one failure reason), always bounded by time: without these it would scan whole
-- monthly partitions.
-- TimescaleDB creates the time index with the hypertable; plain partitions need it here.
CREATE INDEX IF NOT EXISTS auth_log_time_idx ON auth_log (time DESC);
CREATE INDEX IF NOT EXISTS auth_log_router_idx ON auth_log (router_id, time DESC);
-- Rejects and drops by reason. Partial: accepts are most rows and never filtered by a
-- failure reason, so the index stays small and costs the hot insert path little.
CREATE INDEX IF NOT EXISTS auth_log_failure_idx ON auth_log (reason, time DESC) WHERE result <> 'accept';
