-- Partitioned time-series tables register here instead of being listed inside
-- ts_ensure_partitions, so a later file adds a table with one INSERT. `retention` (NULL:
-- keep forever) drives ts_drop_expired_partitions, the plain-PostgreSQL counterpart of
-- TimescaleDB's retention policy: whole monthly partitions past it are dropped.
CREATE TABLE IF NOT EXISTS ts_partitioned_tables (
    parent    TEXT PRIMARY KEY,
    retention INTERVAL
);
INSERT INTO ts_partitioned_tables (parent) VALUES ('accounting_records'), ('subscriber_usage')
ON CONFLICT (parent) DO NOTHING;

CREATE OR REPLACE FUNCTION ts_ensure_partitions(ahead INTERVAL DEFAULT INTERVAL '3 months')
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT;
    month_start TIMESTAMPTZ;
    month_end TIMESTAMPTZ;
    part TEXT;
    created INTEGER := 0;
BEGIN
    FOR parent IN SELECT t.parent FROM ts_partitioned_tables t ORDER BY t.parent LOOP
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

-- Drops monthly partitions (named <parent>_pYYYY_MM) that end before now() - retention.
CREATE OR REPLACE FUNCTION ts_drop_expired_partitions()
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    t RECORD;
    p RECORD;
    month_end TIMESTAMPTZ;
    dropped INTEGER := 0;
BEGIN
    FOR t IN SELECT parent, retention FROM ts_partitioned_tables WHERE retention IS NOT NULL LOOP
        FOR p IN
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class pc ON pc.oid = i.inhparent
            WHERE pc.relname = t.parent AND c.relname ~ ('^' || t.parent || '_p[0-9]{4}_[0-9]{2}$')
        LOOP
            month_end := ((to_timestamp(right(p.relname, 7), 'YYYY_MM')::timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + INTERVAL '1 month') AT TIME ZONE 'UTC';
            IF month_end <= now() - t.retention THEN
                EXECUTE format('DROP TABLE %I', p.relname);
                dropped := dropped + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN dropped;
END
$$;
