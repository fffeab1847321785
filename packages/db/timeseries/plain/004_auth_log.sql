-- Every Access-Request's outcome, for support ("why can't this customer connect") and the
-- NOC wall. Written by the collector in batches off the RADIUS hot path. No foreign keys:
-- rows outlive renamed users and deleted routers.
CREATE TABLE IF NOT EXISTS auth_log (
    time               TIMESTAMPTZ NOT NULL,
    router_id          INTEGER,
    nas_ip             INET        NOT NULL,
    username           TEXT        NOT NULL,
    subscriber_id      INTEGER,
    calling_station_id TEXT,
    -- pap | chap | mschapv2 | eap | none
    method             TEXT        NOT NULL,
    -- accept | reject | drop
    result             TEXT        NOT NULL,
    -- ok, wrong_password, unknown_user, suspended, ... (docs/radius-auth.md)
    reason             TEXT        NOT NULL,
    -- Short summary of what was granted, e.g. "rate=8M/2M ip=100.64.0.2".
    reply              TEXT
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS auth_log_username_idx ON auth_log (username, time DESC);
CREATE INDEX IF NOT EXISTS auth_log_subscriber_idx ON auth_log (subscriber_id, time DESC);
CREATE TABLE IF NOT EXISTS auth_log_default PARTITION OF auth_log DEFAULT;

-- 90 days: long enough for a support dispute; attempts are high-volume during storms.
INSERT INTO ts_partitioned_tables (parent, retention) VALUES ('auth_log', INTERVAL '90 days')
ON CONFLICT (parent) DO NOTHING;
SELECT ts_ensure_partitions(INTERVAL '3 months');
