// In-memory views of routers and subscribers for the RADIUS hot path. The NAS secret
// lookup must be synchronous (the server checks authenticators before calling a
// handler), so routers live in a map refreshed on a timer. Subscribers: a simple full
// load, an updated_at poll every few seconds, LISTEN `subscriber_changed` (payload: the
// subscriber id) and a periodic full reload; a miss falls back to one query so a
// subscriber created a second ago can still log in. (The production-grade cache is a
// later issue.)
import type pg from "pg";
import type { Logger } from "../log";

export interface RouterInfo {
  id: number;
  name: string;
  ip: string;
  secret: string;
  coaPort: number;
  vendor: string;
}

export interface SubscriberInfo {
  id: number;
  accountNo: string;
  name: string;
  username: string;
  password: string;
  status: "pending" | "active" | "suspended" | "terminated";
  staticIp: string | null;
  dealerId: number | null;
  plan: { id: number; name: string; downloadKbps: number; uploadKbps: number };
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
      const r = await pool.query<{ id: number; name: string; ip: string; radius_secret: string; coa_port: number; vendor: string }>(
        "SELECT id, name, host(ip_address) AS ip, radius_secret, coa_port, vendor::text FROM routers WHERE active",
      );
      map = new Map(r.rows.map((x) => [x.ip, { id: x.id, name: x.name, ip: x.ip, secret: x.radius_secret, coaPort: x.coa_port, vendor: x.vendor }]));
    },
    byIp: (ip) => map.get(normaliseIp(ip)),
    secretFor: (ip) => map.get(normaliseIp(ip))?.secret,
    all: () => [...map.values()],
  };
}

const SUBSCRIBER_SQL = `
SELECT s.updated_at, s.id, s.account_no, s.name, s.pppoe_username, s.pppoe_password, s.status::text AS status,
       host(s.static_ip) AS static_ip, s.dealer_id, p.id AS plan_id, p.name AS plan_name, p.download_kbps, p.upload_kbps
  FROM subscribers s JOIN plans p ON p.id = s.plan_id`;

interface SubscriberRow {
  updated_at: Date;
  id: number;
  account_no: string;
  name: string;
  pppoe_username: string;
  pppoe_password: string;
  status: SubscriberInfo["status"];
  static_ip: string | null;
  dealer_id: number | null;
  plan_id: number;
  plan_name: string;
  download_kbps: number;
  upload_kbps: number;
}

const toInfo = (r: SubscriberRow): SubscriberInfo => ({
  id: r.id,
  accountNo: r.account_no,
  name: r.name,
  username: r.pppoe_username,
  password: r.pppoe_password,
  status: r.status,
  staticIp: r.static_ip,
  dealerId: r.dealer_id,
  plan: { id: r.plan_id, name: r.plan_name, downloadKbps: r.download_kbps, uploadKbps: r.upload_kbps },
});

/** How far behind the newest updated_at seen the change poll looks again. */
export const changesLookbackMs = 10_000;

export interface SubscriberCache {
  load(): Promise<void>;
  /** Cached entry, or one query on a miss (null when the username does not exist). */
  byUsername(username: string): Promise<SubscriberInfo | null>;
  /** Sync lookup only (accounting hot path); undefined when not cached. */
  cachedByUsername(username: string): SubscriberInfo | undefined;
  reloadOne(id: number): Promise<void>;
  /** Reloads rows whose updated_at moved since the last load (cheap; run every few seconds). */
  refreshChanged(): Promise<number>;
  readonly size: number;
}

export function createSubscriberCache(pool: pg.Pool, log: Logger): SubscriberCache {
  let byName = new Map<string, SubscriberInfo>();
  let watermark = new Date(0);
  const see = (rows: SubscriberRow[]) => {
    for (const row of rows) if (row.updated_at > watermark) watermark = row.updated_at;
  };
  const put = (row: SubscriberRow) => {
    // A username may have changed: drop the old key of this id first.
    const old = [...byName.values()].find((x) => x.id === row.id && x.username !== row.pppoe_username);
    if (old) byName.delete(old.username);
    byName.set(row.pppoe_username, toInfo(row));
  };
  return {
    async load() {
      const r = await pool.query<SubscriberRow>(SUBSCRIBER_SQL);
      byName = new Map(r.rows.map((row) => [row.pppoe_username, toInfo(row)]));
      see(r.rows);
      log.debug("subscriber cache loaded", { size: byName.size });
    },
    async byUsername(username) {
      const hit = byName.get(username);
      if (hit) return hit;
      const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.pppoe_username = $1`, [username]);
      const row = r.rows[0];
      if (!row) return null;
      const info = toInfo(row);
      byName.set(username, info);
      return info;
    },
    cachedByUsername: (username) => byName.get(username),
    async refreshChanged() {
      // updated_at is set when the row is written, not when it commits: look back a little
      // so a slow transaction's row is not skipped (re-reading a few rows is harmless).
      const since = new Date(watermark.getTime() - changesLookbackMs);
      const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.updated_at > $1 ORDER BY s.updated_at`, [since]);
      for (const row of r.rows) put(row);
      see(r.rows);
      return r.rows.length;
    },
    async reloadOne(id) {
      const r = await pool.query<SubscriberRow>(`${SUBSCRIBER_SQL} WHERE s.id = $1`, [id]);
      for (const [name, info] of byName) if (info.id === id) byName.delete(name);
      const row = r.rows[0];
      if (row) byName.set(row.pppoe_username, toInfo(row));
    },
    get size() {
      return byName.size;
    },
  };
}
