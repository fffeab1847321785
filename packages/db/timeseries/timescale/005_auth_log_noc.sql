-- The NOC's auth-log page filtered by router or failure reason (see plain/005_auth_log_noc.sql). The time
-- index (auth_log_time_idx) came with create_hypertable's default indexes.
CREATE INDEX IF NOT EXISTS auth_log_router_idx ON auth_log (router_id, time DESC);
CREATE INDEX IF NOT EXISTS auth_log_failure_idx ON auth_log (reason, time DESC) WHERE result <> 'accept';
