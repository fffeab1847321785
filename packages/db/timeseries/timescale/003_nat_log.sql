-- See plain/003_nat_log.sql for the columns and their order. Here nat_log and nat_quarantine
-- are hypertables: 1-day chunks (a day of a busy CGNAT is tens of millions of rows; the
-- chunk and its index stay in memory while it fills), compressed after 2 days segmented by
-- public_ip (a lookup decompresses only that IP's batches), dropped after 12 months.
CREATE TABLE IF NOT EXISTS nat_log (
    time            TIMESTAMPTZ NOT NULL,
    router_id       INTEGER,
    private_port    INTEGER,
    public_port     INTEGER,
    dest_port       INTEGER,
    subscriber_id   INTEGER,
    src_mac         MACADDR,
    public_ip       INET        NOT NULL,
    private_ip      INET        NOT NULL,
    dest_ip         INET        NOT NULL,
    source_ip       INET        NOT NULL,
    event           TEXT        NOT NULL CHECK (event IN ('open', 'close', 'packet')),
    protocol        TEXT        NOT NULL,
    acct_session_id TEXT,
    pppoe_user      TEXT
);
SELECT create_hypertable('nat_log', by_range('time', INTERVAL '1 day'), create_default_indexes => FALSE, if_not_exists => TRUE);
-- Uncompressed chunks; compressed ones are found by public_ip segment and time metadata.
CREATE INDEX IF NOT EXISTS nat_log_lookup_idx ON nat_log (public_ip, time, public_port);
ALTER TABLE nat_log SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'public_ip',
    timescaledb.compress_orderby = 'time'
);
SELECT add_compression_policy('nat_log', INTERVAL '2 days', if_not_exists => TRUE);
SELECT add_retention_policy('nat_log', INTERVAL '12 months', if_not_exists => TRUE);

CREATE TABLE IF NOT EXISTS nat_quarantine (
    time      TIMESTAMPTZ NOT NULL,
    raw_bytes INTEGER     NOT NULL,
    source_ip INET        NOT NULL,
    reason    TEXT        NOT NULL,
    raw       TEXT        NOT NULL CHECK (octet_length(raw) <= 8192)
);
SELECT create_hypertable('nat_quarantine', by_range('time', INTERVAL '7 days'), if_not_exists => TRUE);
SELECT add_retention_policy('nat_quarantine', INTERVAL '12 months', if_not_exists => TRUE);

CREATE OR REPLACE FUNCTION nat_log_set_retention(keep INTERVAL)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF keep IS NULL OR keep <= INTERVAL '0' THEN
        RAISE EXCEPTION 'NAT retention must be a positive interval, got %', keep;
    END IF;
    PERFORM remove_retention_policy('nat_log', if_exists => TRUE);
    PERFORM add_retention_policy('nat_log', keep);
    PERFORM remove_retention_policy('nat_quarantine', if_exists => TRUE);
    PERFORM add_retention_policy('nat_quarantine', keep);
END
$$;
