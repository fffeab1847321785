-- RADIUS AAA policy (issue 3): BlastRADIUS per NAS, encrypted PPPoE passwords, MAC
-- binding, simultaneous use, prepaid expiry, fair usage, suspended policy, IP pools, and
-- NOTIFY triggers that keep the collector's caches current.

-- CreateEnum
CREATE TYPE "suspended_policy" AS ENUM ('reject', 'walled_garden');

-- Routers. Rows that exist already keep today's behaviour (their NAS may not send
-- Message-Authenticator yet); routers added from now on require it (BlastRADIUS).
ALTER TABLE "routers" ADD COLUMN "require_message_authenticator" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "routers" ALTER COLUMN "require_message_authenticator" SET DEFAULT true;

-- Subscribers. The password moves to pppoe_password_enc (AES-256-GCM, key from the
-- collector's environment, which SQL cannot see): pppoe_password is now only a legacy
-- plain-text slot that the collector encrypts and clears at start and on every change.
ALTER TABLE "subscribers" ALTER COLUMN "pppoe_password" DROP NOT NULL;
ALTER TABLE "subscribers" ADD COLUMN "pppoe_password_enc" TEXT;
ALTER TABLE "subscribers" ADD COLUMN "bound_mac" TEXT;
ALTER TABLE "subscribers" ADD COLUMN "mac_learn" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "subscribers" ADD COLUMN "simultaneous_use" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "subscribers" ADD COLUMN "expires_at" TIMESTAMPTZ(3);
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_password_present" CHECK ("pppoe_password" IS NOT NULL OR "pppoe_password_enc" IS NOT NULL);
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_password_enc_format" CHECK ("pppoe_password_enc" IS NULL OR "pppoe_password_enc" ~ '^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$');
-- One spelling (lower-case, colons) so comparisons are plain string equality.
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_bound_mac_format" CHECK ("bound_mac" IS NULL OR "bound_mac" ~ '^([0-9a-f]{2}:){5}[0-9a-f]{2}$');
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_simultaneous_use_positive" CHECK ("simultaneous_use" >= 1);
-- Rows still holding plain text, found by the collector's encryption sweep.
CREATE INDEX "subscribers_plain_password_idx" ON "subscribers" ("id") WHERE "pppoe_password" IS NOT NULL;

-- Plans: burst, fair usage, suspended policy, walled garden, idle timeout, router pool.
ALTER TABLE "plans" ADD COLUMN "burst_download_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "burst_upload_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "burst_threshold_download_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "burst_threshold_upload_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "burst_time_s" INTEGER;
ALTER TABLE "plans" ADD COLUMN "fup_quota_bytes" BIGINT;
ALTER TABLE "plans" ADD COLUMN "fup_download_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "fup_upload_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "suspended_policy" "suspended_policy";
ALTER TABLE "plans" ADD COLUMN "walled_garden_address_list" TEXT;
ALTER TABLE "plans" ADD COLUMN "walled_garden_download_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "walled_garden_upload_kbps" INTEGER;
ALTER TABLE "plans" ADD COLUMN "idle_timeout_s" INTEGER;
ALTER TABLE "plans" ADD COLUMN "framed_pool" TEXT;
ALTER TABLE "plans" ADD CONSTRAINT "plans_burst_complete" CHECK (
    ("burst_download_kbps" IS NULL) = ("burst_upload_kbps" IS NULL)
    AND ("burst_download_kbps" IS NULL) = ("burst_threshold_download_kbps" IS NULL)
    AND ("burst_download_kbps" IS NULL) = ("burst_threshold_upload_kbps" IS NULL)
    AND ("burst_download_kbps" IS NULL) = ("burst_time_s" IS NULL));
ALTER TABLE "plans" ADD CONSTRAINT "plans_fup_complete" CHECK (
    ("fup_quota_bytes" IS NULL) = ("fup_download_kbps" IS NULL)
    AND ("fup_quota_bytes" IS NULL) = ("fup_upload_kbps" IS NULL)
    AND ("fup_quota_bytes" IS NULL OR "fup_quota_bytes" > 0));

-- CreateTable
CREATE TABLE "ip_pools" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "router_id" INTEGER,
    "network" INET NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ip_pools_pkey" PRIMARY KEY ("id"),
    -- Each pool's addresses are rows of ip_pool_addresses: bound the size (a /16).
    CONSTRAINT "ip_pools_network_size" CHECK (family("network") = 4 AND masklen("network") BETWEEN 16 AND 30)
);

-- The free list: one row per usable address, allocation_id set while it is held.
-- CreateTable
CREATE TABLE "ip_pool_addresses" (
    "ip" INET NOT NULL,
    "pool_id" INTEGER NOT NULL,
    "allocation_id" BIGINT,

    CONSTRAINT "ip_pool_addresses_pkey" PRIMARY KEY ("ip")
);

-- History of who held which address; an open row (released_at NULL) is a lease.
-- CreateTable
CREATE TABLE "ip_allocations" (
    "id" BIGSERIAL NOT NULL,
    "pool_id" INTEGER NOT NULL,
    "ip" INET NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "router_id" INTEGER,
    "allocated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "released_at" TIMESTAMPTZ(3),
    "release_reason" TEXT,

    CONSTRAINT "ip_allocations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ip_pools_name_key" ON "ip_pools"("name");
CREATE INDEX "ip_pools_router_id_idx" ON "ip_pools"("router_id");
CREATE UNIQUE INDEX "ip_pool_addresses_allocation_id_key" ON "ip_pool_addresses"("allocation_id");
CREATE INDEX "ip_pool_addresses_pool_id_idx" ON "ip_pool_addresses"("pool_id");
CREATE INDEX "ip_allocations_subscriber_id_idx" ON "ip_allocations"("subscriber_id");
CREATE INDEX "ip_allocations_router_id_ip_idx" ON "ip_allocations"("router_id", "ip");
-- Not expressible in Prisma (partial indexes; listed in schema-model.ts nonPrismaIndexes).
-- Two open leases of one address cannot exist: this is the "never twice" guarantee.
CREATE UNIQUE INDEX "ip_allocations_open_ip_key" ON "ip_allocations"("ip") WHERE "released_at" IS NULL;
-- Allocation reads the lowest free address of a pool straight from this index.
CREATE INDEX "ip_pool_addresses_free_idx" ON "ip_pool_addresses"("pool_id", "ip") WHERE "allocation_id" IS NULL;

-- AddForeignKey
ALTER TABLE "ip_pools" ADD CONSTRAINT "ip_pools_router_id_fkey" FOREIGN KEY ("router_id") REFERENCES "routers"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "ip_pool_addresses" ADD CONSTRAINT "ip_pool_addresses_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "ip_pools"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "ip_pool_addresses" ADD CONSTRAINT "ip_pool_addresses_allocation_id_fkey" FOREIGN KEY ("allocation_id") REFERENCES "ip_allocations"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "ip_allocations" ADD CONSTRAINT "ip_allocations_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "ip_pools"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "ip_allocations" ADD CONSTRAINT "ip_allocations_subscriber_id_fkey" FOREIGN KEY ("subscriber_id") REFERENCES "subscribers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "ip_allocations" ADD CONSTRAINT "ip_allocations_router_id_fkey" FOREIGN KEY ("router_id") REFERENCES "routers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- A pool lease may never take another subscriber's static IP, and a static IP may never
-- be set while another subscriber leases it. Both sides take the same per-address
-- transaction lock before looking, so two concurrent writers cannot both pass.
CREATE FUNCTION ip_claim_lock(addr INET) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('ip-claim:' || host(addr)));
$$;

CREATE FUNCTION ip_allocations_no_static_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    holder INTEGER;
BEGIN
    IF NEW.released_at IS NULL THEN
        PERFORM ip_claim_lock(NEW.ip);
        SELECT id INTO holder FROM subscribers WHERE static_ip = NEW.ip AND id <> NEW.subscriber_id;
        IF holder IS NOT NULL THEN
            RAISE EXCEPTION 'address % is the static IP of subscriber %', host(NEW.ip), holder
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'ip_allocations_static_ip_conflict';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "ip_allocations_no_static_conflict" BEFORE INSERT OR UPDATE OF "ip", "released_at", "subscriber_id" ON "ip_allocations"
    FOR EACH ROW EXECUTE FUNCTION ip_allocations_no_static_conflict();

CREATE FUNCTION subscribers_no_lease_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    holder INTEGER;
BEGIN
    IF NEW.static_ip IS NOT NULL THEN
        PERFORM ip_claim_lock(NEW.static_ip);
        SELECT subscriber_id INTO holder FROM ip_allocations
         WHERE ip = NEW.static_ip AND released_at IS NULL AND subscriber_id <> NEW.id LIMIT 1;
        IF holder IS NOT NULL THEN
            RAISE EXCEPTION 'address % is leased from a pool by subscriber %', host(NEW.static_ip), holder
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'subscribers_static_ip_lease_conflict';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "subscribers_no_lease_conflict" BEFORE INSERT OR UPDATE OF "static_ip" ON "subscribers"
    FOR EACH ROW EXECUTE FUNCTION subscribers_no_lease_conflict();

-- Cache invalidation. Statement-level with transition tables so a bulk write sends one
-- notification (empty payload: reload everything) instead of thousands.
CREATE FUNCTION notify_changed_ids() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER;
    r RECORD;
    channel TEXT := TG_ARGV[0];
    prefix TEXT := coalesce(TG_ARGV[1], '');
BEGIN
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
CREATE TRIGGER "subscribers_notify_insert" AFTER INSERT ON "subscribers" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('subscriber_changed');
CREATE TRIGGER "subscribers_notify_update" AFTER UPDATE ON "subscribers" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('subscriber_changed');
CREATE TRIGGER "subscribers_notify_delete" AFTER DELETE ON "subscribers" REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('subscriber_changed');
-- A plan change reaches every subscriber on the plan ("plan:<id>").
CREATE TRIGGER "plans_notify_update" AFTER UPDATE ON "plans" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('subscriber_changed', 'plan:');
CREATE TRIGGER "routers_notify_insert" AFTER INSERT ON "routers" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('router_changed');
CREATE TRIGGER "routers_notify_update" AFTER UPDATE ON "routers" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('router_changed');
CREATE TRIGGER "routers_notify_delete" AFTER DELETE ON "routers" REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('router_changed');
-- Pools: the collector reloads its pool list (payload unused).
CREATE TRIGGER "ip_pools_notify_insert" AFTER INSERT ON "ip_pools" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('ip_pool_changed');
CREATE TRIGGER "ip_pools_notify_update" AFTER UPDATE ON "ip_pools" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('ip_pool_changed');
CREATE TRIGGER "ip_pools_notify_delete" AFTER DELETE ON "ip_pools" REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('ip_pool_changed');
