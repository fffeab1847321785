-- TimescaleDB flavour. No foreign keys: hypertables are written by the collector at
-- accounting rate and must not depend on (or lock) relational rows.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE IF NOT EXISTS accounting_records (
    time            TIMESTAMPTZ NOT NULL,
    router_id       INTEGER     NOT NULL,
    acct_session_id TEXT        NOT NULL,
    subscriber_id   INTEGER,
    username        TEXT        NOT NULL,
    -- RFC 2866 Acct-Status-Type: 1 Start, 2 Stop, 3 Interim-Update.
    status_type     SMALLINT    NOT NULL,
    session_time_s  INTEGER     NOT NULL DEFAULT 0,
    input_octets    BIGINT      NOT NULL DEFAULT 0,
    output_octets   BIGINT      NOT NULL DEFAULT 0,
    framed_ip       INET,
    terminate_cause TEXT,
    delay_time_s    INTEGER     NOT NULL DEFAULT 0
);
SELECT create_hypertable('accounting_records', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS accounting_records_session_idx ON accounting_records (router_id, acct_session_id, time DESC);
CREATE INDEX IF NOT EXISTS accounting_records_subscriber_idx ON accounting_records (subscriber_id, time DESC);

-- Octets since the previous record of the same session (never negative).
CREATE TABLE IF NOT EXISTS subscriber_usage (
    time          TIMESTAMPTZ NOT NULL,
    subscriber_id INTEGER     NOT NULL,
    router_id     INTEGER     NOT NULL,
    input_octets  BIGINT      NOT NULL CHECK (input_octets >= 0),
    output_octets BIGINT      NOT NULL CHECK (output_octets >= 0)
);
SELECT create_hypertable('subscriber_usage', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS subscriber_usage_subscriber_idx ON subscriber_usage (subscriber_id, time DESC);

ALTER TABLE accounting_records SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'router_id',
    timescaledb.compress_orderby = 'time DESC'
);
ALTER TABLE subscriber_usage SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'subscriber_id',
    timescaledb.compress_orderby = 'time DESC'
);
SELECT add_compression_policy('accounting_records', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('subscriber_usage', INTERVAL '7 days', if_not_exists => TRUE);
-- 400 days: a year of history plus a billing-dispute margin.
SELECT add_retention_policy('accounting_records', INTERVAL '400 days', if_not_exists => TRUE);
SELECT add_retention_policy('subscriber_usage', INTERVAL '400 days', if_not_exists => TRUE);

-- WITH NO DATA so this can run inside the migration transaction.
CREATE MATERIALIZED VIEW IF NOT EXISTS usage_5min
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT time_bucket(INTERVAL '5 minutes', time) AS bucket,
       subscriber_id,
       sum(input_octets)::BIGINT  AS input_octets,
       sum(output_octets)::BIGINT AS output_octets
FROM subscriber_usage
GROUP BY 1, 2
WITH NO DATA;
-- start_offset 1 hour re-materialises late interim updates; end_offset keeps the
-- still-filling bucket out.
SELECT add_continuous_aggregate_policy('usage_5min',
    start_offset => INTERVAL '1 hour',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE);
SELECT add_retention_policy('usage_5min', INTERVAL '400 days', if_not_exists => TRUE);
