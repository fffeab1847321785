// IPv6 prefix delegation from database pools (dual-stack PPPoE). A pool is a network cut
// into prefixes of one length; prefixes are handed out by index (prefix i = network +
// i * 2^(128 - length)) and are never materialised as rows: ipv6_pools.next_index is the
// high-water mark and ipv6_pool_holes the indexes freed below it, so the bookkeeping is as
// small as the pool's real use (a /40 of /56s is 65,536 prefixes, a /32 of /64s 4 billion).
// Allocation is one statement (the plpgsql function ipv6_allocate in the migration): the
// subscriber's own open lease on a re-dial, else its recent prefix (sticky), else the lowest
// old hole, else a fresh index, else a recently freed hole. The exclusion constraint on
// open leases (prefix && prefix) makes a double or overlapping grant impossible even for
// code that bypasses this module.
import type { Queryable } from "./timeseries";

export type Ipv6PoolKind = "delegated" | "framed";

/** Days a released prefix is kept for its last holder before others get it (unless the pool is otherwise full). */
export const ipv6StickyDaysDefault = 30;

export interface CreateIpv6PoolInput {
  name: string;
  /** e.g. "2400:abcd::/40" (no host bits). */
  network: string;
  /** Delegated prefix length, e.g. 56 (at most 64, at most 2^24 prefixes per pool). */
  prefixLength: number;
  kind?: Ipv6PoolKind;
  routerId?: number | null;
}

export async function createIpv6Pool(q: Queryable, input: CreateIpv6PoolInput): Promise<{ id: number; prefixes: number }> {
  const r = await q.query<{ id: number; prefixes: number }>(
    `INSERT INTO ipv6_pools (name, router_id, network, prefix_length, kind) VALUES ($1, $2, $3::inet, $4, $5)
     RETURNING id, (1 << (prefix_length - masklen(network)))::int AS prefixes`,
    [input.name, input.routerId ?? null, input.network, input.prefixLength, input.kind ?? "delegated"],
  );
  return r.rows[0]!;
}

export interface Ipv6AllocateInput {
  /** Candidate pools in order of preference (the NAS's own, then shared ones). */
  poolIds: readonly number[];
  subscriberId: number;
  routerId: number | null;
  /** A prefix released within this many days is given back to its last holder. */
  stickyDays?: number;
  /**
   * The subscriber may hold one session only (simultaneous use 1): an accepted re-dial on
   * this NAS replaces its old session, so the old session's lease is handed out again even
   * while that session still looks active (its Stop was lost).
   */
  replacesOwnSession?: boolean;
}

export interface Ipv6Lease {
  leaseId: string;
  poolId: number;
  /** "2400:abcd:12:3400::/56" */
  prefix: string;
  kind: Ipv6PoolKind;
  /** reused: the open lease of a re-dial; sticky: the subscriber's previous prefix; hole/new/recent_hole: a fresh grant. */
  how: "reused" | "sticky" | "hole" | "new" | "recent_hole";
}

/** Leases a prefix, or null when every candidate pool is full. One round trip. */
export async function allocatePrefix(q: Queryable, input: Ipv6AllocateInput): Promise<Ipv6Lease | null> {
  if (input.poolIds.length === 0) return null;
  const r = await q.query<{ lease_id: string; pool_id: number; prefix: string; kind: Ipv6PoolKind; how: Ipv6Lease["how"] }>(
    "SELECT lease_id::text, pool_id, prefix::text, kind, how FROM ipv6_allocate($1::int[], $2, $3, $4, $5)",
    [input.poolIds, input.subscriberId, input.routerId, input.stickyDays ?? ipv6StickyDaysDefault, input.replacesOwnSession ?? false],
  );
  const row = r.rows[0];
  return row ? { leaseId: row.lease_id, poolId: row.pool_id, prefix: row.prefix, kind: row.kind, how: row.how } : null;
}

/** The key that ends a lease: the NAS, the prefix its session used (radius_sessions.delegated_ipv6_prefix) and that session. */
export interface PrefixKey {
  routerId: number;
  prefix: string;
  /** The session that ended: a lease granted again after it started (a re-dial) is not ended with it. */
  acctSessionId?: string;
}

/**
 * Ends the open leases of these prefixes on these NASes (Stop, Accounting-On/Off, stale
 * session; called after the commit that ended those sessions); returns how many. A lease
 * another active session on that NAS uses, or one handed out again after the ended
 * session started (a re-dial whose session has not started yet), stays open: the late Stop
 * of a replaced session must not free the prefix its successor uses. The stale-lease
 * sweep ends such a lease if it really is unused.
 */
export async function releasePrefixes(q: Queryable, keys: readonly PrefixKey[], reason = "stop"): Promise<number> {
  if (keys.length === 0) return 0;
  const r = await q.query<{ n: number }>(
    `WITH k AS (SELECT * FROM unnest($1::int[], $2::inet[], $3::text[]) AS t(router_id, prefix, acct_session_id)),
     rel AS (
       UPDATE ipv6_leases l SET closed_at = now(), close_reason = $4
         FROM k LEFT JOIN radius_sessions s ON s.router_id = k.router_id AND s.acct_session_id = k.acct_session_id
        WHERE l.prefix = k.prefix AND l.closed_at IS NULL AND l.router_id IS NOT DISTINCT FROM k.router_id
          -- granted for this session (the Accept comes a moment before the session's start), not for a later re-dial
          AND (s.started_at IS NULL OR l.granted_at <= s.started_at + interval '5 seconds')
          AND NOT EXISTS (SELECT 1 FROM radius_sessions r WHERE r.delegated_ipv6_prefix = l.prefix AND r.status = 'active' AND r.router_id = k.router_id)
       RETURNING l.pool_id, l.idx),
     holes AS (INSERT INTO ipv6_pool_holes (pool_id, idx) SELECT pool_id, idx FROM rel ON CONFLICT DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM rel)::int AS n, (SELECT count(*) FROM holes)::int AS h`,
    [keys.map((k) => k.routerId), keys.map((k) => k.prefix), keys.map((k) => k.acctSessionId ?? null), reason],
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * Ends leases no active session uses and last granted more than `graceS` ago (an Accept
 * the NAS never turned into a session, a lost Stop). Returns how many.
 */
export async function releaseStalePrefixes(q: Queryable, graceS: number): Promise<number> {
  const r = await q.query<{ n: number }>(
    `WITH rel AS (
       UPDATE ipv6_leases l SET closed_at = now(), close_reason = 'stale'
        WHERE l.closed_at IS NULL AND l.granted_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM radius_sessions r WHERE r.delegated_ipv6_prefix = l.prefix AND r.status = 'active')
        RETURNING l.pool_id, l.idx),
     holes AS (INSERT INTO ipv6_pool_holes (pool_id, idx) SELECT pool_id, idx FROM rel ON CONFLICT DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM rel)::int AS n, (SELECT count(*) FROM holes)::int AS h`,
    [graceS],
  );
  return r.rows[0]?.n ?? 0;
}

/** Active IPv6 pools that can serve a NAS: key = router id, null = shared (router_id NULL). */
export async function ipv6PoolsForRouters(q: Queryable): Promise<Map<number | null, number[]>> {
  const r = await q.query<{ id: number; router_id: number | null }>("SELECT id, router_id FROM ipv6_pools WHERE active ORDER BY id");
  const out = new Map<number | null, number[]>();
  for (const row of r.rows) out.set(row.router_id, [...(out.get(row.router_id) ?? []), row.id]);
  return out;
}

export interface PrefixHolder {
  subscriberId: number | null;
  username: string | null;
  routerId: number | null;
  /** The prefix as granted or reported (it contains the queried prefix or address, or lies inside it). */
  prefix: string;
  from: Date;
  /** null: still held. */
  until: Date | null;
  /** lease: the database granted it (ipv6_leases); session: the NAS reported it in accounting (radius_sessions). */
  source: "lease" | "session";
  acctSessionId: string | null;
}

/**
 * Compliance lookup: who held `prefixOrAddress` ("2400:abcd:12:3400::/56" or one address
 * "2400:abcd:12:3401::10") at time `at`. Answers from both the lease history and the
 * sessions' recorded prefixes (a NAS may delegate from its own pool), newest first.
 */
export async function whoHadPrefix(q: Queryable, prefixOrAddress: string, at: Date): Promise<PrefixHolder[]> {
  const r = await q.query<{
    subscriber_id: number | null;
    username: string | null;
    router_id: number | null;
    prefix: string;
    from: Date;
    until: Date | null;
    source: "lease" | "session";
    acct_session_id: string | null;
  }>(
    `SELECT l.subscriber_id, s.pppoe_username AS username, l.router_id, l.prefix::text AS prefix, l.opened_at AS "from", l.closed_at AS until,
            'lease' AS source, NULL::text AS acct_session_id
       FROM ipv6_leases l LEFT JOIN subscribers s ON s.id = l.subscriber_id
      WHERE l.prefix && $1::inet AND l.opened_at <= $2 AND (l.closed_at IS NULL OR l.closed_at > $2)
     UNION ALL
     SELECT r.subscriber_id, r.username, r.router_id, r.delegated_ipv6_prefix::text, r.started_at, r.stopped_at, 'session', r.acct_session_id
       FROM radius_sessions r
      WHERE r.delegated_ipv6_prefix IS NOT NULL AND r.delegated_ipv6_prefix && $1::inet AND r.started_at <= $2
        AND (r.stopped_at IS NULL OR r.stopped_at > $2)
        AND (r.status <> 'stale' OR r.last_update_at > $2)
      ORDER BY 5 DESC`,
    [prefixOrAddress, at],
  );
  return r.rows.map((x) => ({
    subscriberId: x.subscriber_id,
    username: x.username,
    routerId: x.router_id,
    prefix: x.prefix,
    from: x.from,
    until: x.until,
    source: x.source,
    acctSessionId: x.acct_session_id,
  }));
}

/** Holders answered by one windowed compliance lookup at most (the caller learns when there were more). */
export const prefixHoldersLimitMax = 5000;

export interface PrefixHolderInWindow extends PrefixHolder {
  /** Session rows only: Calling-Station-Id (the CPE's MAC on PPPoE) and the session's IPv4 address. */
  mac: string | null;
  framedIp: string | null;
}

/**
 * Compliance lookup over a time window: everyone who held `prefixOrAddress` (or a prefix
 * inside it, or one covering it) at any moment in [`from`, `to`]. With from = to this is
 * `whoHadPrefix` (an interval [opened, closed) overlapping the window), plus the session's
 * MAC and IPv4 address. Newest first, at most `limit` rows; `truncated` when there were more.
 * Both halves use the GiST inet_ops indexes (ipv6_leases_prefix_history_idx, the partial
 * radius_sessions_delegated_ipv6_prefix_idx) through `&&`.
 */
export async function whoHadPrefixBetween(
  q: Queryable,
  prefixOrAddress: string,
  from: Date,
  to: Date,
  limit = prefixHoldersLimitMax,
): Promise<{ rows: PrefixHolderInWindow[]; truncated: boolean }> {
  if (to.getTime() < from.getTime()) throw new RangeError("the time window ends before it starts");
  const n = Math.max(1, Math.min(limit, prefixHoldersLimitMax));
  const r = await q.query<{
    subscriber_id: number | null;
    username: string | null;
    router_id: number | null;
    prefix: string;
    from: Date;
    until: Date | null;
    source: "lease" | "session";
    acct_session_id: string | null;
    mac: string | null;
    framed_ip: string | null;
  }>(
    `SELECT l.subscriber_id, s.pppoe_username AS username, l.router_id, l.prefix::text AS prefix, l.opened_at AS "from", l.closed_at AS until,
            'lease' AS source, NULL::text AS acct_session_id, NULL::text AS mac, NULL::text AS framed_ip
       FROM ipv6_leases l LEFT JOIN subscribers s ON s.id = l.subscriber_id
      WHERE l.prefix && $1::inet AND l.opened_at <= $3 AND (l.closed_at IS NULL OR l.closed_at > $2)
     UNION ALL
     SELECT r.subscriber_id, r.username, r.router_id, r.delegated_ipv6_prefix::text, r.started_at, r.stopped_at, 'session', r.acct_session_id,
            r.calling_station_id, host(r.framed_ip)
       FROM radius_sessions r
      WHERE r.delegated_ipv6_prefix IS NOT NULL AND r.delegated_ipv6_prefix && $1::inet AND r.started_at <= $3
        AND (r.stopped_at IS NULL OR r.stopped_at > $2)
        AND (r.status <> 'stale' OR r.last_update_at > $2)
      ORDER BY 5 DESC, 7, 8
      LIMIT $4`,
    [prefixOrAddress, from, to, n + 1],
  );
  const rows = r.rows.slice(0, n).map((x) => ({
    subscriberId: x.subscriber_id,
    username: x.username,
    routerId: x.router_id,
    prefix: x.prefix,
    from: x.from,
    until: x.until,
    source: x.source,
    acctSessionId: x.acct_session_id,
    mac: x.mac,
    framedIp: x.framed_ip,
  }));
  return { rows, truncated: r.rows.length > n };
}
