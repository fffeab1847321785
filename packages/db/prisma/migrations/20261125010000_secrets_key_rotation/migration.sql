-- SECRETS_KEY rotation (docs/radius-auth.md, "Rotating SECRETS_KEY"; decision in
-- docs/decisions.md): PPPoE passwords are now written as "v2:<key id>:<iv>:<tag>:<ct>",
-- the key id (16 hex digits) naming the key of the collector's keyring that encrypted
-- them. v1 values stay valid until the collector's sweep rewrites them.
-- The new check is a superset of the old one, so every existing row passes it; the
-- validation scan runs inside the migration's transaction (milliseconds at 100k rows).
-- A check constraint only: schema.prisma is unchanged.
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_password_enc_format_v2" CHECK (
    "pppoe_password_enc" IS NULL
    OR "pppoe_password_enc" ~ '^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$'
    OR "pppoe_password_enc" ~ '^v2:[0-9a-f]{16}:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$'
) NOT VALID;
ALTER TABLE "subscribers" VALIDATE CONSTRAINT "subscribers_password_enc_format_v2";
ALTER TABLE "subscribers" DROP CONSTRAINT "subscribers_password_enc_format";

-- The re-encryption sweep rewrites up to every subscriber row without changing what any
-- cache needs to know (the old ciphertext still decrypts while its key is configured). Its
-- UPDATE sets isp.skip_change_notify for its own statement only (set_config(..., true)),
-- and the cache-invalidation trigger stays quiet for it: otherwise each batch of 500 would
-- send an empty payload, a full reload of the collector's subscriber cache, 200 of them
-- for 100k subscribers. Identical to the function of 20261124180000 but for that check.
CREATE OR REPLACE FUNCTION notify_changed_ids() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER;
    r RECORD;
    channel TEXT := TG_ARGV[0];
    prefix TEXT := coalesce(TG_ARGV[1], '');
BEGIN
    IF current_setting('isp.skip_change_notify', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT count(*) INTO n FROM old_rows;
    ELSE
        SELECT count(*) INTO n FROM new_rows;
    END IF;
    IF n = 0 THEN
        RETURN NULL;
    ELSIF n > 100 THEN
        PERFORM pg_notify(channel, '');
    ELSIF TG_OP = 'DELETE' THEN
        FOR r IN SELECT id FROM old_rows LOOP PERFORM pg_notify(channel, prefix || r.id); END LOOP;
    ELSE
        FOR r IN SELECT id FROM new_rows LOOP PERFORM pg_notify(channel, prefix || r.id); END LOOP;
    END IF;
    RETURN NULL;
END
$$;
