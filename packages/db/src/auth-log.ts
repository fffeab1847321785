// The auth log (time-series table auth_log): one row per Access-Request outcome, written
// by the collector in batches, read by support to answer "why can't this customer connect".
import type { Queryable } from "./timeseries";

export type AuthMethod = "pap" | "chap" | "mschapv2" | "mschapv1" | "eap" | "none";
export type AuthResult = "accept" | "reject" | "drop";

export interface AuthLogRow {
  time: Date;
  routerId: number | null;
  nasIp: string;
  username: string;
  subscriberId: number | null;
  callingStationId: string | null;
  method: AuthMethod;
  result: AuthResult;
  /** "ok" on accept; otherwise wrong_password, unknown_user, ... (docs/radius-auth.md). */
  reason: string;
  reply: string | null;
}

/** Rows per INSERT statement (10 parameters each stays far below PostgreSQL's 65535). */
export const authLogInsertRowsMax = 1000;

const COLUMNS = 10;

export async function insertAuthLog(q: Queryable, rows: readonly AuthLogRow[]): Promise<number> {
  for (let at = 0; at < rows.length; at += authLogInsertRowsMax) {
    const chunk = rows.slice(at, at + authLogInsertRowsMax);
    const params: unknown[] = [];
    const values = chunk.map((r, i) => {
      params.push(r.time, r.routerId, r.nasIp, r.username, r.subscriberId, r.callingStationId, r.method, r.result, r.reason, r.reply);
      const b = i * COLUMNS;
      return `($${b + 1}, $${b + 2}, $${b + 3}::inet, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}, $${b + 10})`;
    });
    await q.query(
      `INSERT INTO auth_log (time, router_id, nas_ip, username, subscriber_id, calling_station_id, method, result, reason, reply) VALUES ${values.join(", ")}`,
      params,
    );
  }
  return rows.length;
}

/**
 * The same rows as columns (time as epoch milliseconds): one statement with ten array
 * parameters and unnest, whatever the row count. The collector's writer uses it so a
 * flush builds no row objects, Dates or per-value placeholders (docs/radius-auth.md, Hot
 * path and GC). All arrays must have the same length.
 */
export interface AuthLogColumns {
  time: number[];
  routerId: Array<number | null>;
  nasIp: string[];
  username: string[];
  subscriberId: Array<number | null>;
  callingStationId: Array<string | null>;
  method: AuthMethod[];
  result: AuthResult[];
  reason: string[];
  reply: Array<string | null>;
}

export async function insertAuthLogColumns(q: Queryable, c: AuthLogColumns): Promise<number> {
  const n = c.time.length;
  for (const col of [c.routerId, c.nasIp, c.username, c.subscriberId, c.callingStationId, c.method, c.result, c.reason, c.reply]) {
    if (col.length !== n) throw new Error(`insertAuthLogColumns: columns of different lengths (${col.length} vs ${n})`);
  }
  if (n === 0) return 0;
  await q.query(
    `INSERT INTO auth_log (time, router_id, nas_ip, username, subscriber_id, calling_station_id, method, result, reason, reply)
     SELECT to_timestamp(x.t / 1000.0::float8), x.r, x.n::inet, x.u, x.s, x.c, x.m, x.res, x.rs, x.rp
       FROM unnest($1::float8[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         AS x(t, r, n, u, s, c, m, res, rs, rp)`,
    [c.time, c.routerId, c.nasIp, c.username, c.subscriberId, c.callingStationId, c.method, c.result, c.reason, c.reply],
  );
  return n;
}

export interface AuthAttempt {
  time: Date;
  routerId: number | null;
  routerName: string | null;
  nasIp: string;
  username: string;
  subscriberId: number | null;
  callingStationId: string | null;
  method: AuthMethod;
  result: AuthResult;
  reason: string;
  reply: string | null;
}

export const recentAuthAttemptsLimitMax = 500;

/**
 * Newest attempts first, by subscriber (also matching the subscriber's current username,
 * so attempts rejected as unknown_user before the account existed still show) or username.
 */
export async function recentAuthAttempts(
  q: Queryable,
  opts: ({ subscriberId: number; username?: never } | { username: string; subscriberId?: never }) & { limit?: number; since?: Date },
): Promise<AuthAttempt[]> {
  const limit = Math.max(1, Math.min(opts.limit ?? 50, recentAuthAttemptsLimitMax));
  const since = opts.since ?? new Date(Date.now() - 30 * 86_400_000);
  const where =
    opts.subscriberId !== undefined
      ? `(a.subscriber_id = $1 OR a.username = (SELECT pppoe_username FROM subscribers WHERE id = $1))`
      : `a.username = $1`;
  const r = await q.query<{
    time: Date;
    router_id: number | null;
    router_name: string | null;
    nas_ip: string;
    username: string;
    subscriber_id: number | null;
    calling_station_id: string | null;
    method: AuthMethod;
    result: AuthResult;
    reason: string;
    reply: string | null;
  }>(
    `SELECT a.time, a.router_id, r.name AS router_name, host(a.nas_ip) AS nas_ip, a.username, a.subscriber_id,
            a.calling_station_id, a.method, a.result, a.reason, a.reply
       FROM auth_log a LEFT JOIN routers r ON r.id = a.router_id
      WHERE ${where} AND a.time >= $2
      ORDER BY a.time DESC LIMIT $3`,
    [opts.subscriberId ?? opts.username, since, limit],
  );
  return r.rows.map((x) => ({
    time: x.time,
    routerId: x.router_id,
    routerName: x.router_name,
    nasIp: x.nas_ip,
    username: x.username,
    subscriberId: x.subscriber_id,
    callingStationId: x.calling_station_id,
    method: x.method,
    result: x.result,
    reason: x.reason,
    reply: x.reply,
  }));
}
