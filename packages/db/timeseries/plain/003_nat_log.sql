-- NAT log (who had public IP X, port Y, at time T) and the quarantine of lines that could not
-- be parsed. Written by the collector with COPY; read by the compliance lookup
-- (src/nat-log.ts). Retention: 12 months (PTA data-retention rules), changed with
-- nat_log_set_retention(interval). See docs/nat-storage.md.
--
-- Column order keeps the row compact: the 8-byte time first, then the 4-byte integers and
-- the 6-byte macaddr, then the variable-length inet/text values (1-byte headers, no
-- alignment padding). Ports are INTEGER: SMALLINT stops at 32767. NULLs cost one bit.
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
    -- The syslog sender (router_id is resolved from it when it is a known router).
    source_ip       INET        NOT NULL,
    event           TEXT        NOT NULL CHECK (event IN ('open', 'close', 'packet')),
    protocol        TEXT        NOT NULL,
    acct_session_id TEXT,
    pppoe_user      TEXT
) PARTITION BY RANGE (time);
-- The lookup path: public IP, then time, then port. A lookup with a port range-scans the
-- IP's entries inside the window and tests the port in the index (no heap visit for other
-- ports); one without a port reads the same range in time order and stops at its limit. With
-- the port second, port lookups would touch only their matches but port-less ones would walk
-- every port of the IP in the month (docs/nat-storage.md has both measured).
CREATE INDEX IF NOT EXISTS nat_log_lookup_idx ON nat_log (public_ip, time, public_port);
CREATE TABLE IF NOT EXISTS nat_log_default PARTITION OF nat_log DEFAULT;

-- `time` is when the line was received (ts_ensure_partitions moves rows by a column named
-- time). raw is cut to 8 KiB by the writer; raw_bytes keeps the original size.
CREATE TABLE IF NOT EXISTS nat_quarantine (
    time      TIMESTAMPTZ NOT NULL,
    raw_bytes INTEGER     NOT NULL,
    source_ip INET        NOT NULL,
    reason    TEXT        NOT NULL,
    raw       TEXT        NOT NULL CHECK (octet_length(raw) <= 8192)
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS nat_quarantine_time_idx ON nat_quarantine (time);
CREATE TABLE IF NOT EXISTS nat_quarantine_default PARTITION OF nat_quarantine DEFAULT;

INSERT INTO ts_partitioned_tables (parent, retention)
VALUES ('nat_log', INTERVAL '12 months'), ('nat_quarantine', INTERVAL '12 months')
ON CONFLICT (parent) DO NOTHING;

-- Same name and effect in both flavours: how long NAT records and quarantined lines are kept.
CREATE OR REPLACE FUNCTION nat_log_set_retention(keep INTERVAL)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF keep IS NULL OR keep <= INTERVAL '0' THEN
        RAISE EXCEPTION 'NAT retention must be a positive interval, got %', keep;
    END IF;
    UPDATE ts_partitioned_tables SET retention = keep WHERE parent IN ('nat_log', 'nat_quarantine');
END
$$;

SELECT ts_ensure_partitions(INTERVAL '3 months');
