-- Numbering kept in step with plain/002_partition_registry.sql. TimescaleDB creates chunks
-- and applies retention itself (add_retention_policy per table), so there is nothing to
-- register here.
SELECT 1;
