// IPv4 pools served from the database. Each pool's usable addresses are rows of
// ip_pool_addresses (the free list); a lease is an ip_allocations row, and while it is
// open the address row points at it. Allocation is one statement that takes the lowest
// free address with FOR UPDATE SKIP LOCKED, so concurrent Access-Requests never wait on
// each other and never get the same address; the partial unique index on open leases and
// the static-IP trigger make a double grant impossible even for code that bypasses this.
import type { Queryable } from "./timeseries";

/** Largest pool (a /16): every address is a row. */
export const poolAddressesMax = 65_534;

export interface CreatePoolInput {
  name: string;
  /** e.g. "100.64.0.0/22"; network and broadcast addresses are not handed out. */
  network: string;
  routerId?: number | null;
}

/** Creates a pool and its free list; static IPs of subscribers inside it are left out. */
export async function createPool(q: Queryable, input: CreatePoolInput): Promise<{ id: number; addresses: number }> {
  const pool = (
    await q.query<{ id: number }>("INSERT INTO ip_pools (name, router_id, network) VALUES ($1, $2, network($3::inet)) RETURNING id", [
      input.name,
      input.routerId ?? null,
      input.network,
    ])
  ).rows[0]!;
  const r = await q.query<{ n: number }>(
    `WITH ins AS (
       INSERT INTO ip_pool_addresses (ip, pool_id)
       SELECT host(network(p.network) + g)::inet, p.id
         FROM ip_pools p, generate_series(1, (2 ^ (32 - masklen(p.network)))::int - 2) AS g
        WHERE p.id = $1
          AND NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.static_ip = host(network(p.network) + g)::inet)
       RETURNING 1)
     SELECT count(*)::int AS n FROM ins`,
    [pool.id],
  );
  return { id: pool.id, addresses: r.rows[0]?.n ?? 0 };
}

export interface AllocateInput {
  /** Candidate pools in order of preference (the NAS's own, then shared ones). */
  poolIds: readonly number[];
  subscriberId: number;
  routerId: number | null;
}

export interface Allocation {
  ip: string;
  poolId: number;
  /** true: the subscriber's open lease on this NAS was handed out again (a re-dial). */
  reused: boolean;
}

/**
 * Leases an address, or null when every candidate pool is full. A subscriber re-dialling
 * the same NAS gets back the lease no active session is using, so a lost Stop or an
 * Accept the NAS never used does not leak addresses.
 */
export async function allocateAddress(q: Queryable, input: AllocateInput): Promise<Allocation | null> {
  if (input.poolIds.length === 0) return null;
  const reuse = await q.query<{ ip: string; pool_id: number }>(
    `UPDATE ip_allocations SET allocated_at = now()
      WHERE id = (SELECT a.id FROM ip_allocations a
                   WHERE a.subscriber_id = $1 AND a.released_at IS NULL AND a.router_id IS NOT DISTINCT FROM $2
                     AND a.pool_id = ANY($3::int[])
                     AND NOT EXISTS (SELECT 1 FROM radius_sessions r WHERE r.framed_ip = a.ip AND r.status = 'active')
                   LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING host(ip) AS ip, pool_id`,
    [input.subscriberId, input.routerId, input.poolIds],
  );
  const again = reuse.rows[0];
  if (again) return { ip: again.ip, poolId: again.pool_id, reused: true };
  for (const poolId of input.poolIds) {
    const r = await q.query<{ ip: string; pool_id: number }>(
      `WITH pick AS (
         SELECT a.ip, a.pool_id FROM ip_pool_addresses a
          WHERE a.pool_id = $1 AND a.allocation_id IS NULL
          ORDER BY a.ip LIMIT 1 FOR UPDATE SKIP LOCKED),
       lease AS (
         INSERT INTO ip_allocations (pool_id, ip, subscriber_id, router_id)
         SELECT pool_id, ip, $2, $3 FROM pick RETURNING id, ip, pool_id)
       UPDATE ip_pool_addresses a SET allocation_id = lease.id FROM lease WHERE a.ip = lease.ip
       RETURNING host(a.ip) AS ip, a.pool_id`,
      [poolId, input.subscriberId, input.routerId],
    );
    const got = r.rows[0];
    if (got) return { ip: got.ip, poolId: got.pool_id, reused: false };
  }
  return null;
}

/**
 * The key that ends a lease: the NAS and the address it reported in Accounting-Stop
 * (Framed-IP-Address). Acct-Session-Id does not exist yet when the address is leased
 * (Access-Accept comes first), so it cannot be the key; it tells which session ended, so a
 * Stop that arrives late (retransmitted, spooled) never frees the lease a re-dial was
 * granted since: the lease is ended only if it was (last) granted for that session, at
 * most 5 s after the session's start, and no active session on the NAS uses the address.
 */
export interface SessionKey {
  routerId: number;
  framedIp: string;
  /** The session that ended; without it only the active-session check applies. */
  acctSessionId?: string | null;
}

// The release condition shared by releaseAllocation(s): `a` the lease, `k` (router_id, ip,
// acct_session_id) the ended session's key.
const releasableLease = `
  a.ip = k.ip AND a.released_at IS NULL AND a.router_id IS NOT DISTINCT FROM k.router_id
  -- granted for the session that ended (the Accept comes a moment before its start), not
  -- re-granted to a re-dial after it (allocateAddress moves allocated_at on reuse)
  AND NOT EXISTS (SELECT 1 FROM radius_sessions e
                   WHERE e.router_id = k.router_id AND e.acct_session_id = k.acct_session_id
                     AND a.allocated_at > e.started_at + interval '5 seconds')
  AND NOT EXISTS (SELECT 1 FROM radius_sessions r WHERE r.framed_ip = a.ip AND r.status = 'active' AND r.router_id IS NOT DISTINCT FROM k.router_id)`;

/** Ends the open lease of this address on this NAS; false when there was none (static IP, router pool). */
export async function releaseAllocation(q: Queryable, key: SessionKey, reason = "stop"): Promise<boolean> {
  return (await releaseAllocations(q, [key], reason)) > 0;
}

/**
 * Ends leases no active session uses and that are older than `graceS` (an Accept the NAS
 * never turned into a session, or a session that went stale). Returns how many.
 */
export async function releaseStaleAllocations(q: Queryable, graceS: number): Promise<number> {
  const r = await q.query<{ n: number }>(
    `WITH rel AS (
       UPDATE ip_allocations a SET released_at = now(), release_reason = 'stale'
        WHERE a.released_at IS NULL AND a.allocated_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM radius_sessions r WHERE r.framed_ip = a.ip AND r.status = 'active')
        RETURNING a.id),
     freed AS (UPDATE ip_pool_addresses SET allocation_id = NULL WHERE allocation_id IN (SELECT id FROM rel) RETURNING 1)
     SELECT (SELECT count(*) FROM rel)::int AS n, (SELECT count(*) FROM freed)::int AS f`,
    [graceS],
  );
  return r.rows[0]?.n ?? 0;
}

/** Pools that can serve a NAS: its own first, then shared ones (router_id NULL). */
export async function poolsForRouters(q: Queryable): Promise<Map<number | null, number[]>> {
  const r = await q.query<{ id: number; router_id: number | null }>(
    "SELECT id, router_id FROM ip_pools WHERE active ORDER BY router_id NULLS LAST, id",
  );
  const out = new Map<number | null, number[]>();
  for (const row of r.rows) out.set(row.router_id, [...(out.get(row.router_id) ?? []), row.id]);
  return out;
}

/** releaseAllocation for many sessions in one statement (the accounting batch that ended them). */
export async function releaseAllocations(q: Queryable, keys: readonly SessionKey[], reason = "stop"): Promise<number> {
  if (keys.length === 0) return 0;
  const r = await q.query<{ n: number }>(
    `WITH k AS (SELECT * FROM unnest($1::int[], $2::inet[], $4::text[]) AS t(router_id, ip, acct_session_id)),
     rel AS (
       UPDATE ip_allocations a SET released_at = now(), release_reason = $3
         FROM k WHERE ${releasableLease} RETURNING a.id),
     freed AS (UPDATE ip_pool_addresses SET allocation_id = NULL WHERE allocation_id IN (SELECT id FROM rel) RETURNING 1)
     SELECT (SELECT count(*) FROM rel)::int AS n, (SELECT count(*) FROM freed)::int AS f`,
    [keys.map((k) => k.routerId), keys.map((k) => k.framedIp), reason, keys.map((k) => k.acctSessionId ?? null)],
  );
  return r.rows[0]?.n ?? 0;
}
