// In-memory views of routers and subscribers for the RADIUS hot path. The NAS secret
// lookup must be synchronous (the server checks authenticators before calling a
// handler), so routers live in a map refreshed on a timer. Subscribers: a simple full
// load, an updated_at poll every few seconds, LISTEN `subscriber_changed` (payload: the
// subscriber id) and a periodic full reload; a miss falls back to one query so a
// subscriber created a second ago can still log in. Database triggers (migration
// 20261124180000) send `subscriber_changed` (id, "plan:<id>", or "" after a bulk change)
// and `router_changed`. Passwords stay encrypted here; the auth path decrypts per request.
import type pg from "pg";
import type { Logger } from "../log";

export interface RouterInfo {
  id: number;
  name: string;
  ip: string;
  secret: string;
  coaPort: number;
  vendor: string;
  requireMessageAuthenticator: boolean;
}

export interface PlanInfo {
  id: number;
  name: string;
  downloadKbps: number;
  uploadKbps: number;
  burst: { downloadKbps: number; uploadKbps: number; thresholdDownloadKbps: number; thresholdUploadKbps: number; timeSeconds: number } | null;
  fup: { quotaBytes: bigint; downloadKbps: number; uploadKbps: number } | null;
  suspendedPolicy: "reject" | "walled_garden" | null;
  walledGarden: { addressList: string | null; downloadKbps: number | null; uploadKbps: number | null };
  idleTimeoutS: number | null;
  framedPool: string | null;
}

export interface SubscriberInfo {
  id: number;
  accountNo: string;
  name: string;
  username: string;
  /** AES-256-GCM ("v1:..."); decrypted per request, never kept in clear. */
  passwordEnc: string | null;
  /** Legacy plain text not yet encrypted by the sweep (secrets.encryptPlainPasswords). */
  passwordPlain: string | null;
  status: "pending" | "active" | "suspended" | "terminated";
  staticIp: string | null;
  /** Static delegated IPv6 prefix ("2400:abcd:ff00::/48"), answered instead of a pool lease. */
  staticIpv6Prefix?: string | null;
  dealerId: number | null;
  boundMac: string | null;
  macLearn: boolean;
  simultaneousUse: number;
  expiresAt: Date | null;
  plan: PlanInfo;
}

export interface RouterCache {
  load(): Promise<void>;
  byIp(ip: string): RouterInfo | undefined;
  secretFor(ip: string): string | undefined;
  all(): RouterInfo[];
}

/** IPv4-mapped IPv6 (::ffff:1.2.3.4) from dual-stack sockets compares as plain IPv4. */
export function normaliseIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

export function createRouterCache(pool: pg.Pool): RouterCache {
  let map = new Map<string, RouterInfo>();
  return {
    async load() {
      const r = await pool.query<{ id: number; name: string; ip: string; radius_secret: string; coa_port: number; vendor: string; rma: boolean }>(
        "SELECT id, name, host(ip_address) AS ip, radius_secret, coa_port, vendor::text, require_message_authenticator AS rma FROM routers WHERE active",
      );
      map = new Map(
        r.rows.map((x) => [
          x.ip,
          { id: x.id, name: x.name, ip: x.ip, secret: x.radius_secret, coaPort: x.coa_port, vendor: x.vendor, requireMessageAuthenticator: x.rma },
        ]),
      );
    },
    byIp: (ip) => map.get(normaliseIp(ip)),
    secretFor: (ip) => map.get(normaliseIp(ip))?.secret,
    all: () => [...map.values()],
  };
}

const SUBSCRIBER_SQL = `
SELECT s.updated_at, s.id, s.account_no, s.name, s.pppoe_username, s.pppoe_password, s.pppoe_password_enc, s.status::text AS status,
       host(s.static_ip) AS static_ip, s.static_ipv6_prefix::text AS static_ipv6_prefix, s.dealer_id, s.bound_mac, s.mac_learn, s.simultaneous_use, s.expires_at,
       p.id AS plan_id, p.name AS plan_name, p.download_kbps, p.upload_kbps,
       p.burst_download_kbps, p.burst_upload_kbps, p.burst_threshold_download_kbps, p.burst_threshold_upload_kbps, p.burst_time_s,
       p.fup_quota_bytes::text AS fup_quota_bytes, p.fup_download_kbps, p.fup_upload_kbps, p.suspended_policy::text AS suspended_policy,
       p.walled_garden_address_list, p.walled_garden_download_kbps, p.walled_garden_upload_kbps, p.idle_timeout_s, p.framed_pool
  FROM subscribers s JOIN plans p ON p.id = s.plan_id`;

interface SubscriberRow {
  updated_at: Date;
  id: number;
  account_no: string;
  name: string;
  pppoe_username: string;
  pppoe_password: string | null;
  pppoe_password_enc: string | null;
  status: SubscriberInfo["status"];
  static_ip: string | null;
  static_ipv6_prefix: string | null;
  dealer_id: number | null;
  bound_mac: string | null;
  mac_learn: boolean;
  simultaneous_use: number;
  expires_at: Date | null;
  plan_id: number;
  plan_name: string;
  download_kbps: number;
  upload_kbps: number;
  burst_download_kbps: number | null;
  burst_upload_kbps: number | null;
  burst_threshold_download_kbps: number | null;
  burst_threshold_upload_kbps: number | null;
  burst_time_s: number | null;
  fup_quota_bytes: string | null;
  fup_download_kbps: number | null;
  fup_upload_kbps: number | null;
  suspended_policy: "reject" | "walled_garden" | null;
  walled_garden_address_list: string | null;
  walled_garden_download_kbps: number | null;
  walled_garden_upload_kbps: number | null;
  idle_timeout_s: number | null;
  framed_pool: string | null;
}

const toInfo = (r: SubscriberRow): SubscriberInfo => ({
  id: r.id,
  accountNo: r.account_no,
  name: r.name,
  username: r.pppoe_username,
  passwordEnc: r.pppoe_password_enc,
  passwordPlain: r.pppoe_password,
  status: r.status,
  staticIp: r.static_ip,
  staticIpv6Prefix: r.static_ipv6_prefix,
  dealerId: r.dealer_id,
  boundMac: r.bound_mac,
  macLearn: r.mac_learn,
  simultaneousUse: r.simultaneous_use,
  expiresAt: r.expires_at,
  plan: {
    id: r.plan_id,
    name: r.plan_name,
    downloadKbps: r.download_kbps,
    uploadKbps: r.upload_kbps,
    // The CHECK constraints keep these groups all-or-nothing.
    burst:
      r.burst_download_kbps !== null
        ? {
            downloadKbps: r.burst_download_kbps,
            uploadKbps: r.burst_upload_kbps ?? 0,
            thresholdDownloadKbps: r.burst_threshold_download_kbps ?? 0,
            thresholdUploadKbps: r.burst_threshold_upload_kbps ?? 0,
            timeSeconds: r.burst_time_s ?? 0,
          }
        : null,
    fup:
      r.fup_quota_bytes !== null
        ? { quotaBytes: BigInt(r.fup_quota_bytes), downloadKbps: r.fup_download_kbps ?? 0, uploadKbps: r.fup_upload_kbps ?? 0 }
        : null,
    suspendedPolicy: r.suspended_policy,
    walledGarden: { addressList: r.walled_garden_address_list, downloadKbps: r.walled_garden_download_kbps, uploadKbps: r.walled_garden_upload_kbps },
    idleTimeoutS: r.idle_timeout_s,
    framedPool: r.framed_pool,
  },
});

/** Subscribers re-read per query when many NOTIFYs arrive at once (bounds the statement). */
export const reloadIdsPerQuery = 5000;

/** How far behind the newest updated_at seen the change poll looks again. */
export const changesLookbackMs = 10_000;

export interface SubscriberCache {
  /** Reads every subscriber. Calls while a load runs share one more load after it (a burst of bulk-change NOTIFYs reads the table twice, not N times). */
  load(): Promise<void>;
  /** Cached entry, or one query on a miss (null when the username does not exist). */
  byUsername(username: string): Promise<SubscriberInfo | null>;
  /** Sync lookup only (accounting hot path); undefined when not cached. */
  cachedByUsername(username: string): SubscriberInfo | undefined;
  /**
   * Re-reads one subscriber (a NOTIFY said it changed). Calls in the same turn of the event
   * loop are answered by one query (a mass suspend notifies thousands of ids at once), and
   * batches run one after another, so an older read never lands after a newer one.
   */
  reloadOne(id: number): Promise<void>;
  /** Reloads every subscriber on a plan (the plan's rates or policy changed). */
  reloadPlan(planId: number): Promise<void>;
  /** Reloads rows whose updated_at moved since the last load (cheap; run every few seconds). */
  refreshChanged(): Promise<number>;
  readonly size: number;
}

export function createSubscriberCache(pool: pg.Pool, log: Logger, opts: { lookbackMs?: number } = {}): SubscriberCache {
  const lookbackMs = opts.lookbackMs ?? changesLookbackMs;
  let byName = new Map<string, SubscriberInfo>();
  // id -> username, so a renamed or reloaded row replaces its old key in O(1) (a scan of
  // byName per changed row was quadratic at 100k subscribers).
  let nameById = new Map<number, string>();
  // Database clock at the previous change poll. The next poll re-reads rows updated since
  // then minus lookbackMs: updated_at is set when a row is written, not when it
  // commits, so a slow transaction's row is not skipped, and rows older than the window are
  // not re-read on every poll.
  let polledAt: Date | null = null;
  const put = (row: SubscriberRow): SubscriberInfo => {
    const oldName = nameById.get(row.id);
    if (oldName !== undefined && oldName !== row.pppoe_username) byName.delete(oldName);
    const info = toInfo(row);
    byName.set(row.pppoe_username, info);
    nameById.set(row.id, row.pppoe_username);
    return info;
  };
  const dbNow = async () => (await pool.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  // reloadOne's batching: ids waiting for the next query, the batch that will take them
  // (null once it has started reading), and the batch running now.
  const pendingIds = new Set<number>();
  let queued: Promise<void> | null = null;
  let running: Promise<void> = Promise.resolve();
  const reloadIds = async (ids: number[]): Promise<void> => {
    const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.id = ANY($1::int[])`, [ids]);
    const found = new Set<number>();
    for (const row of r.rows) {
      put(row);
      found.add(row.id);
    }
    for (const id of ids) {
      if (found.has(id)) continue;
      const oldName = nameById.get(id);
      if (oldName !== undefined) byName.delete(oldName);
      nameById.delete(id);
    }
  };
  const loadAll = async (): Promise<void> => {
    const now = await dbNow();
    const r = await pool.query<SubscriberRow>(SUBSCRIBER_SQL);
    byName = new Map();
    nameById = new Map();
    for (const row of r.rows) put(row);
    polledAt = now;
    log.debug("subscriber cache loaded", { size: byName.size });
  };
  // Full reloads (a bulk change NOTIFYs an empty payload per statement): one at a time, and
  // every call made while one runs shares a single next one, which starts after it.
  let loading: Promise<void> | null = null;
  let nextLoad: Promise<void> | null = null;
  const load = (): Promise<void> => {
    if (!loading) {
      loading = loadAll().finally(() => {
        loading = null;
      });
      return loading;
    }
    nextLoad ??= loading
      .catch(() => undefined)
      .then(() => {
        nextLoad = null;
        return load();
      });
    return nextLoad;
  };
  return {
    load,
    async byUsername(username) {
      const hit = byName.get(username);
      if (hit) return hit;
      const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.pppoe_username = $1`, [username]);
      const row = r.rows[0];
      return row ? put(row) : null;
    },
    cachedByUsername: (username) => byName.get(username),
    async refreshChanged() {
      const now = await dbNow();
      const since = new Date((polledAt ?? new Date(0)).getTime() - lookbackMs);
      const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.updated_at > $1 ORDER BY s.updated_at`, [since]);
      for (const row of r.rows) put(row);
      polledAt = now;
      return r.rows.length;
    },
    reloadOne(id) {
      pendingIds.add(id);
      if (!queued) {
        const batch = running
          .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
          .then(async () => {
            queued = null;
            const ids = [...pendingIds];
            pendingIds.clear();
            for (let i = 0; i < ids.length; i += reloadIdsPerQuery) await reloadIds(ids.slice(i, i + reloadIdsPerQuery));
          });
        queued = batch;
        running = batch.catch(() => undefined);
      }
      return queued;
    },
    async reloadPlan(planId) {
      const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.plan_id = $1`, [planId]);
      for (const row of r.rows) put(row);
    },
    get size() {
      return byName.size;
    },
  };
}

/** Subscribers on FUP plans counted per refresh, at most (bounds the query and the map). */
export const fupSubscribersMax = 200_000;

/** A subscriber at or past the quota of the plan they were on at the refresh. */
export interface OverQuota {
  subscriberId: number;
  planId: number;
  bytes: bigint;
  quotaBytes: bigint;
}

export interface UsageCache {
  /** Bytes (down + up) this calendar month (UTC) for subscribers on plans with a FUP quota. */
  monthBytes(subscriberId: number): bigint;
  /** Start of the calendar month (UTC, database clock) the counters belong to; null before the first refresh. */
  monthStart(): Date | null;
  /** Subscribers whose month-to-date bytes are >= their plan's quota at the last refresh (fup-enforcer.ts acts on them). */
  overQuota(): readonly OverQuota[];
  refresh(): Promise<number>;
}

/**
 * Fair-usage counters: month-to-date usage of subscribers on FUP plans, refreshed on a
 * timer so the auth path reads a map. The month is the database's UTC calendar month at
 * the refresh, returned with the counters so the FUP enforcer never mixes two months
 * around midnight on the 1st. Crossing the quota mid-session: right after each refresh
 * the FUP enforcer (fup-enforcer.ts) requests one `throttle` per subscriber and month (a
 * CoA with the plan's FUP rate); a login after the crossing gets the FUP rate from auth.
 */
export function createUsageCache(pool: pg.Pool): UsageCache {
  let map = new Map<number, bigint>();
  let month: Date | null = null;
  let over: OverQuota[] = [];
  return {
    monthBytes: (id) => map.get(id) ?? 0n,
    monthStart: () => month,
    overQuota: () => over,
    async refresh() {
      // One row with nulls when nobody on a FUP plan used anything this month (the month
      // start is still read). `f` is referenced twice, so it is computed once; the time
      // condition stays a stable expression of now() for partition/chunk pruning.
      const r = await pool.query<{ month_start: Date; subscriber_id: number | null; bytes: string | null; plan_id: number | null; quota: string | null }>(
        `WITH f AS (SELECT s.id, s.plan_id, p.fup_quota_bytes FROM subscribers s JOIN plans p ON p.id = s.plan_id
                     WHERE p.fup_quota_bytes IS NOT NULL LIMIT ${fupSubscribersMax})
         SELECT m.start AS month_start, x.subscriber_id, x.bytes, f.plan_id, f.fup_quota_bytes::text AS quota
           FROM (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start) m
           LEFT JOIN (
             SELECT u.subscriber_id, sum(u.input_octets + u.output_octets)::text AS bytes
               FROM subscriber_usage u
              WHERE u.time >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                AND u.subscriber_id IN (SELECT id FROM f)
              GROUP BY 1) x ON true
           LEFT JOIN f ON f.id = x.subscriber_id`,
      );
      const next = new Map<number, bigint>();
      const nextOver: OverQuota[] = [];
      for (const x of r.rows) {
        if (x.subscriber_id === null || x.bytes === null) continue;
        const bytes = BigInt(x.bytes);
        next.set(x.subscriber_id, bytes);
        if (x.plan_id !== null && x.quota !== null && bytes >= BigInt(x.quota)) {
          nextOver.push({ subscriberId: x.subscriber_id, planId: x.plan_id, bytes, quotaBytes: BigInt(x.quota) });
        }
      }
      map = next;
      over = nextOver;
      month = r.rows[0]?.month_start ?? null;
      return map.size;
    },
  };
}
