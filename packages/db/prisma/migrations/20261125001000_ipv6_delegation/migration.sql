-- IPv6 prefix delegation (dual-stack PPPoE): pools of delegated prefixes served from the
-- database, leases by index, and the prefix a session used (docs/radius-auth.md "IPv6").
--
-- A pool is a network (e.g. 2400:abcd::/40) cut into prefixes of one length (e.g. /56):
-- prefix number i is network + i * 2^(128 - prefix_length). Prefixes are NOT rows (a /40
-- holds 65,536 /56s): `next_index` is the high-water mark of indexes ever handed out, and
-- ipv6_pool_holes lists the indexes below it that were given back. An allocation takes a
-- hole or raises the mark, so both tables stay as small as the pool's real use.
-- A double grant is impossible whatever the code does: open leases exclude each other by
-- prefix overlap (GiST exclusion with the core inet_ops operator class, no extension), and
-- pools exclude each other by network overlap.

-- Prefix number `idx` of a pool. Delegated prefixes are /64 or shorter, so the index
-- shifted into the upper 64 bits fits a bigint; it is ORed into the network.
CREATE FUNCTION ipv6_prefix_at(net inet, plen integer, idx bigint) RETURNS inet
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT network(set_masklen(
           network(net)::inet | (regexp_replace(lpad(to_hex(idx << (64 - plen)), 16, '0'), '(....)(....)(....)(....)', '\1:\2:\3:\4') || '::')::inet,
           plen))::inet
$$;

-- CreateTable
CREATE TABLE "ipv6_pools" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "router_id" INTEGER,
    "network" INET NOT NULL,
    "prefix_length" INTEGER NOT NULL,
    -- 'delegated': Delegated-IPv6-Prefix (DHCPv6-PD to the customer's router, the usual);
    -- 'framed': Framed-IPv6-Prefix (a /64 on the PPPoE link itself, SLAAC).
    "kind" TEXT NOT NULL DEFAULT 'delegated',
    "active" BOOLEAN NOT NULL DEFAULT true,
    "next_index" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ipv6_pools_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ipv6_pools_network_shape" CHECK (
        family("network") = 6 AND "network" = network("network")::inet AND masklen("network") >= 16
        AND "prefix_length" BETWEEN masklen("network") AND 64
        -- at most 2^24 prefixes per pool (a /40 of /64s), so an index is an int
        AND "prefix_length" - masklen("network") <= 24),
    CONSTRAINT "ipv6_pools_kind" CHECK ("kind" IN ('delegated', 'framed')),
    CONSTRAINT "ipv6_pools_next_index" CHECK ("next_index" >= 0 AND "next_index" <= (1 << ("prefix_length" - masklen("network")))),
    CONSTRAINT "ipv6_pools_no_overlap" EXCLUDE USING gist ("network" inet_ops WITH &&)
);

-- Indexes below the pool's high-water mark that are free again, with when they were freed:
-- one freed recently is kept for its last holder (sticky) and handed to others last.
-- CreateTable
CREATE TABLE "ipv6_pool_holes" (
    "pool_id" INTEGER NOT NULL,
    "idx" INTEGER NOT NULL,
    "freed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ipv6_pool_holes_pkey" PRIMARY KEY ("pool_id", "idx")
);

-- History of who held which prefix; an open row (closed_at NULL) is a lease.
-- CreateTable
CREATE TABLE "ipv6_leases" (
    "id" BIGSERIAL NOT NULL,
    "pool_id" INTEGER NOT NULL,
    "idx" INTEGER NOT NULL,
    "prefix" INET NOT NULL,
    "kind" TEXT NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "router_id" INTEGER,
    "opened_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- last Access-Accept that handed it out (a re-dial renews it); the stale sweep reads it
    "granted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closed_at" TIMESTAMPTZ(3),
    "close_reason" TEXT,

    CONSTRAINT "ipv6_leases_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ipv6_leases_prefix_shape" CHECK (family("prefix") = 6 AND "prefix" = network("prefix")::inet),
    -- The guarantee: no two open leases share a single address.
    CONSTRAINT "ipv6_leases_open_no_overlap" EXCLUDE USING gist ("prefix" inet_ops WITH &&) WHERE ("closed_at" IS NULL)
);

-- CreateIndex
CREATE UNIQUE INDEX "ipv6_pools_name_key" ON "ipv6_pools"("name");
CREATE INDEX "ipv6_pools_router_id_idx" ON "ipv6_pools"("router_id");
CREATE INDEX "ipv6_leases_subscriber_id_closed_at_idx" ON "ipv6_leases"("subscriber_id", "closed_at");
-- "Who had this prefix (or this address) at time T": history by containment.
CREATE INDEX "ipv6_leases_prefix_history_idx" ON "ipv6_leases" USING gist ("prefix" inet_ops);

-- AddForeignKey
ALTER TABLE "ipv6_pools" ADD CONSTRAINT "ipv6_pools_router_id_fkey" FOREIGN KEY ("router_id") REFERENCES "routers"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "ipv6_pool_holes" ADD CONSTRAINT "ipv6_pool_holes_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "ipv6_pools"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "ipv6_leases" ADD CONSTRAINT "ipv6_leases_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "ipv6_pools"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "ipv6_leases" ADD CONSTRAINT "ipv6_leases_subscriber_id_fkey" FOREIGN KEY ("subscriber_id") REFERENCES "subscribers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "ipv6_leases" ADD CONSTRAINT "ipv6_leases_router_id_fkey" FOREIGN KEY ("router_id") REFERENCES "routers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- The prefix a session used: Delegated-IPv6-Prefix from the NAS's accounting, else the
-- lease the Accept handed out. Indexed only where set (dual-stack sessions).
-- AlterTable
ALTER TABLE "radius_sessions" ADD COLUMN "delegated_ipv6_prefix" INET;
CREATE INDEX "radius_sessions_delegated_ipv6_prefix_idx" ON "radius_sessions" USING gist ("delegated_ipv6_prefix" inet_ops)
    WHERE "delegated_ipv6_prefix" IS NOT NULL;

-- Pools: the collector reloads its pool lists on the IPv4 pools' channel (payload unused).
CREATE TRIGGER "ipv6_pools_notify_insert" AFTER INSERT ON "ipv6_pools" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('ip_pool_changed');
-- Not on next_index: every allocation moves it, and that is no change of the pool list.
CREATE FUNCTION ipv6_pools_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ip_pool_changed', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER "ipv6_pools_notify_update" AFTER UPDATE ON "ipv6_pools" FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.router_id IS DISTINCT FROM NEW.router_id OR OLD.network IS DISTINCT FROM NEW.network
          OR OLD.prefix_length IS DISTINCT FROM NEW.prefix_length OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.active IS DISTINCT FROM NEW.active)
    EXECUTE FUNCTION ipv6_pools_notify_changed();
CREATE TRIGGER "ipv6_pools_notify_delete" AFTER DELETE ON "ipv6_pools" REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_changed_ids('ip_pool_changed');

-- One Access-Accept's prefix, in one round trip and one statement (so it is atomic):
--   1. the subscriber's open lease on this NAS that no active session uses (a re-dial); with
--      p_replace (the subscriber may hold one session only, so an accepted re-dial on this
--      NAS replaces its old session, whose Stop may be lost) also one its own session uses;
--   2. sticky: the prefix of its most recent lease closed within p_sticky_days, if free;
--   3. per pool in order: the lowest hole freed before the sticky window, else the next
--      fresh index (high-water mark), else the lowest recently freed hole (pool nearly full).
-- Holes are claimed with FOR UPDATE SKIP LOCKED and the mark under the pool row's lock, so
-- concurrent Accepts never wait on one another for the same prefix; the exclusion
-- constraint refuses anything that would overlap (an index taken that way is skipped).
-- Returns no row when every candidate pool is full.
CREATE FUNCTION ipv6_allocate(p_pool_ids integer[], p_subscriber integer, p_router integer, p_sticky_days integer, p_replace boolean)
    RETURNS TABLE (lease_id bigint, pool_id integer, prefix inet, kind text, how text)
    LANGUAGE plpgsql AS $$
DECLARE
    v_lease record;
    v_pool record;
    v_idx integer;
    v_how text;
    v_attempts integer := 0;
    v_cutoff timestamptz := now() - make_interval(days => p_sticky_days);
BEGIN
    -- 1. re-dial
    UPDATE ipv6_leases l SET granted_at = now()
     WHERE l.id = (SELECT a.id FROM ipv6_leases a
                    WHERE a.subscriber_id = p_subscriber AND a.closed_at IS NULL AND a.router_id IS NOT DISTINCT FROM p_router
                      AND a.pool_id = ANY(p_pool_ids)
                      AND NOT EXISTS (SELECT 1 FROM radius_sessions r WHERE r.delegated_ipv6_prefix = a.prefix AND r.status = 'active'
                                         AND NOT (p_replace AND r.subscriber_id = p_subscriber AND r.router_id = p_router))
                    ORDER BY a.opened_at DESC LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING l.id, l.pool_id, l.prefix, l.kind INTO v_lease;
    IF FOUND THEN
        RETURN QUERY SELECT v_lease.id, v_lease.pool_id, v_lease.prefix, v_lease.kind, 'reused'::text;
        RETURN;
    END IF;

    -- 2. sticky: its prefixes released within the window, most recent first
    FOR v_lease IN
        SELECT a.pool_id, a.idx, max(a.closed_at) AS closed_at FROM ipv6_leases a JOIN ipv6_pools p ON p.id = a.pool_id
         WHERE a.subscriber_id = p_subscriber AND a.closed_at >= v_cutoff AND a.pool_id = ANY(p_pool_ids) AND p.active
         GROUP BY a.pool_id, a.idx ORDER BY 3 DESC LIMIT 8
    LOOP
        DELETE FROM ipv6_pool_holes h WHERE h.pool_id = v_lease.pool_id AND h.idx = v_lease.idx RETURNING h.idx INTO v_idx;
        IF FOUND THEN
            BEGIN
                RETURN QUERY
                  INSERT INTO ipv6_leases AS n (pool_id, idx, prefix, kind, subscriber_id, router_id)
                  SELECT p.id, v_idx, ipv6_prefix_at(p.network, p.prefix_length, v_idx), p.kind, p_subscriber, p_router
                    FROM ipv6_pools p WHERE p.id = v_lease.pool_id
                  RETURNING n.id, n.pool_id, n.prefix, n.kind, 'sticky'::text;
                RETURN;
            EXCEPTION WHEN exclusion_violation THEN
                NULL; -- overlaps something outside the pool's bookkeeping: leave that index taken
            END;
        END IF;
    END LOOP;

    -- 3. per pool, in the caller's order
    FOR v_pool IN SELECT p.id, p.network, p.prefix_length, p.kind, ord FROM unnest(p_pool_ids) WITH ORDINALITY AS u(id, ord)
                    JOIN ipv6_pools p ON p.id = u.id WHERE p.active ORDER BY ord
    LOOP
        LOOP
            v_attempts := v_attempts + 1;
            EXIT WHEN v_attempts > 64;
            v_how := 'hole';
            DELETE FROM ipv6_pool_holes h
             WHERE h.pool_id = v_pool.id AND h.idx = (SELECT x.idx FROM ipv6_pool_holes x WHERE x.pool_id = v_pool.id AND x.freed_at < v_cutoff
                                                        ORDER BY x.idx LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING h.idx INTO v_idx;
            IF NOT FOUND THEN
                v_how := 'new';
                UPDATE ipv6_pools p SET next_index = p.next_index + 1
                 WHERE p.id = v_pool.id AND p.next_index < (1 << (p.prefix_length - masklen(p.network)))
                RETURNING p.next_index - 1 INTO v_idx;
            END IF;
            IF NOT FOUND THEN
                v_how := 'recent_hole';
                DELETE FROM ipv6_pool_holes h
                 WHERE h.pool_id = v_pool.id AND h.idx = (SELECT x.idx FROM ipv6_pool_holes x WHERE x.pool_id = v_pool.id
                                                            ORDER BY x.idx LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING h.idx INTO v_idx;
            END IF;
            EXIT WHEN NOT FOUND; -- this pool is full
            BEGIN
                RETURN QUERY
                  INSERT INTO ipv6_leases AS n (pool_id, idx, prefix, kind, subscriber_id, router_id)
                  VALUES (v_pool.id, v_idx, ipv6_prefix_at(v_pool.network, v_pool.prefix_length, v_idx), v_pool.kind, p_subscriber, p_router)
                  RETURNING n.id, n.pool_id, n.prefix, n.kind, v_how;
                RETURN;
            EXCEPTION WHEN exclusion_violation THEN
                NULL; -- taken outside the bookkeeping (a static prefix): try the next index
            END;
        END LOOP;
    END LOOP;
    RETURN;
END
$$;

-- A subscriber's static delegated prefix (business customers): answered as
-- Delegated-IPv6-Prefix without a pool. Static prefixes never overlap each other
-- (exclusion), nor an open pool lease (the two triggers below, serialised by one advisory
-- lock: lease inserts take it shared, so they never wait on each other; a static prefix
-- change takes it exclusively, so neither side can miss the other's uncommitted row).
-- AlterTable
ALTER TABLE "subscribers" ADD COLUMN "static_ipv6_prefix" INET;
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_static_ipv6_prefix_shape" CHECK (
    "static_ipv6_prefix" IS NULL OR (family("static_ipv6_prefix") = 6 AND "static_ipv6_prefix" = network("static_ipv6_prefix")::inet AND masklen("static_ipv6_prefix") <= 64));
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_static_ipv6_prefix_no_overlap"
    EXCLUDE USING gist ("static_ipv6_prefix" inet_ops WITH &&) WHERE ("static_ipv6_prefix" IS NOT NULL);

CREATE FUNCTION ipv6_leases_no_static_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    holder INTEGER;
BEGIN
    IF NEW.closed_at IS NULL THEN
        PERFORM pg_advisory_xact_lock_shared(hashtext('ipv6-static-claim'));
        SELECT id INTO holder FROM subscribers WHERE static_ipv6_prefix && NEW.prefix LIMIT 1;
        IF holder IS NOT NULL THEN
            RAISE EXCEPTION 'prefix % overlaps the static IPv6 prefix of subscriber %', NEW.prefix, holder
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'ipv6_leases_static_prefix_conflict';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "ipv6_leases_no_static_conflict" BEFORE INSERT OR UPDATE OF "prefix", "closed_at" ON "ipv6_leases"
    FOR EACH ROW EXECUTE FUNCTION ipv6_leases_no_static_conflict();

CREATE FUNCTION subscribers_no_prefix_lease_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    holder INTEGER;
BEGIN
    IF NEW.static_ipv6_prefix IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('ipv6-static-claim'));
        SELECT subscriber_id INTO holder FROM ipv6_leases
         WHERE closed_at IS NULL AND prefix && NEW.static_ipv6_prefix AND subscriber_id <> NEW.id LIMIT 1;
        IF holder IS NOT NULL THEN
            RAISE EXCEPTION 'prefix % overlaps a pool lease of subscriber %', NEW.static_ipv6_prefix, holder
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'subscribers_static_ipv6_prefix_lease_conflict';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER "subscribers_no_prefix_lease_conflict" BEFORE INSERT OR UPDATE OF "static_ipv6_prefix" ON "subscribers"
    FOR EACH ROW EXECUTE FUNCTION subscribers_no_prefix_lease_conflict();
