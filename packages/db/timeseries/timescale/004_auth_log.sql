-- See plain/004_auth_log.sql for the meaning of the columns.
CREATE TABLE IF NOT EXISTS auth_log (
    time               TIMESTAMPTZ NOT NULL,
    router_id          INTEGER,
    nas_ip             INET        NOT NULL,
    username           TEXT        NOT NULL,
    subscriber_id      INTEGER,
    calling_station_id TEXT,
    method             TEXT        NOT NULL,
    result             TEXT        NOT NULL,
    reason             TEXT        NOT NULL,
    reply              TEXT
);
SELECT create_hypertable('auth_log', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS auth_log_username_idx ON auth_log (username, time DESC);
CREATE INDEX IF NOT EXISTS auth_log_subscriber_idx ON auth_log (subscriber_id, time DESC);
SELECT add_retention_policy('auth_log', INTERVAL '90 days', if_not_exists => TRUE);
