-- Plain PostgreSQL flavour: the same table names as the TimescaleDB flavour, monthly
-- declarative range partitions, and usage_5min as a table kept by refresh_usage_5min()
-- (called every minute by runRollupJob in src/timeseries.ts).

-- TimescaleDB's time_bucket for fixed-width buckets. Origin 2000-01-03 (a Monday) is
-- TimescaleDB's default, so 5 min / hour / day buckets are identical in both flavours.
CREATE OR REPLACE FUNCTION time_bucket(bucket_width INTERVAL, ts TIMESTAMPTZ)
RETURNS TIMESTAMPTZ LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin(bucket_width, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00')
$$;

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
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS accounting_records_session_idx ON accounting_records (router_id, acct_session_id, time DESC);
CREATE INDEX IF NOT EXISTS accounting_records_subscriber_idx ON accounting_records (subscriber_id, time DESC);
-- The DEFAULT partition catches rows outside the prepared months so inserts never fail.
CREATE TABLE IF NOT EXISTS accounting_records_default PARTITION OF accounting_records DEFAULT;

CREATE TABLE IF NOT EXISTS subscriber_usage (
    time          TIMESTAMPTZ NOT NULL,
    subscriber_id INTEGER     NOT NULL,
    router_id     INTEGER     NOT NULL,
    input_octets  BIGINT      NOT NULL CHECK (input_octets >= 0),
    output_octets BIGINT      NOT NULL CHECK (output_octets >= 0)
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS subscriber_usage_subscriber_idx ON subscriber_usage (subscriber_id, time DESC);
CREATE TABLE IF NOT EXISTS subscriber_usage_default PARTITION OF subscriber_usage DEFAULT;

CREATE TABLE IF NOT EXISTS usage_5min (
    bucket        TIMESTAMPTZ NOT NULL,
    subscriber_id INTEGER     NOT NULL,
    input_octets  BIGINT      NOT NULL,
    output_octets BIGINT      NOT NULL,
    PRIMARY KEY (subscriber_id, bucket)
);
CREATE INDEX IF NOT EXISTS usage_5min_bucket_idx ON usage_5min (bucket);

-- Creates monthly partitions from the current month to now() + ahead. A month whose
-- rows already landed in the DEFAULT partition is built beside it, the rows moved, then
-- attached (attaching over rows still in DEFAULT would fail).
CREATE OR REPLACE FUNCTION ts_ensure_partitions(ahead INTERVAL DEFAULT INTERVAL '3 months')
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT;
    month_start TIMESTAMPTZ;
    month_end TIMESTAMPTZ;
    part TEXT;
    created INTEGER := 0;
BEGIN
    FOREACH parent IN ARRAY ARRAY['accounting_records', 'subscriber_usage'] LOOP
        month_start := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        WHILE month_start <= now() + ahead LOOP
            month_end := ((month_start AT TIME ZONE 'UTC') + INTERVAL '1 month') AT TIME ZONE 'UTC';
            part := format('%s_p%s', parent, to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM'));
            IF to_regclass(part) IS NULL THEN
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
                EXECUTE format(
                    'WITH moved AS (DELETE FROM %I WHERE time >= $1 AND time < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                    parent || '_default', part) USING month_start, month_end;
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                    parent, part, month_start, month_end);
                created := created + 1;
            END IF;
            month_start := month_end;
        END LOOP;
    END LOOP;
    RETURN created;
END
$$;

-- Re-aggregates every 5-minute bucket touching [from_ts, to_ts) from subscriber_usage.
CREATE OR REPLACE FUNCTION refresh_usage_5min(from_ts TIMESTAMPTZ, to_ts TIMESTAMPTZ)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    lo TIMESTAMPTZ := time_bucket(INTERVAL '5 minutes', from_ts);
    hi TIMESTAMPTZ := time_bucket(INTERVAL '5 minutes', to_ts - INTERVAL '1 microsecond') + INTERVAL '5 minutes';
    n INTEGER;
BEGIN
    INSERT INTO usage_5min AS u (bucket, subscriber_id, input_octets, output_octets)
    SELECT time_bucket(INTERVAL '5 minutes', time), subscriber_id, sum(input_octets), sum(output_octets)
    FROM subscriber_usage
    WHERE time >= lo AND time < hi
    GROUP BY 1, 2
    ON CONFLICT (subscriber_id, bucket) DO UPDATE
        SET input_octets = EXCLUDED.input_octets, output_octets = EXCLUDED.output_octets;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

SELECT ts_ensure_partitions(INTERVAL '3 months');
