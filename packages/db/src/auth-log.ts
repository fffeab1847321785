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
  /**
   * The row's physical id (ctid, e.g. "(12,3)"). auth_log has no id column; rows are
   * append-only and rows with the same time live in the same partition/chunk, so
   * (time, id) is unique and stable: a React key and the NOC page's keyset cursor.
   */
  id: string;
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
  const r = await q.query<AttemptRow>(
    `SELECT ${attemptColumns}
       FROM auth_log a LEFT JOIN routers r ON r.id = a.router_id
      WHERE ${where} AND a.time >= $2
      ORDER BY a.time DESC, a.ctid DESC LIMIT $3`,
    [opts.subscriberId ?? opts.username, since, limit],
  );
  return r.rows.map(toAttempt);
}

interface AttemptRow {
  id: string;
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
}

const attemptColumns = `a.ctid::text AS id, a.time, a.router_id, r.name AS router_name, host(a.nas_ip) AS nas_ip, a.username,
            a.subscriber_id, a.calling_station_id, a.method, a.result, a.reason, a.reply`;

function toAttempt(x: AttemptRow): AuthAttempt {
  return {
    id: x.id,
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
  };
}

// ---------------------------------------------------------------------------------------
// The NOC's auth-log page (docs/radius-auth.md, "Auth log"): every router, filtered, newest
// first, paged by a keyset cursor. Every query is bounded by time, so it reads only the
// partitions/chunks of the window, through auth_log_time_idx (auth_log_router_idx for one
// router, auth_log_failure_idx for one failure reason; timeseries/*/005_auth_log_noc.sql).

export const authLogPageSizeMax = 200;
/** Reasons logged with result "accept" (docs/radius-auth.md, "Policy"); every other reason is a reject's or a drop's. */
export const authLogAcceptReasons: readonly string[] = ["ok", "fup", "walled_garden"];
/** The widest window the NOC page may ask for: long enough for an incident, short enough to stay cheap. */
export const authLogWindowMaxMs = 7 * 86_400_000;
/** The summary strip's window. */
export const authLogSummaryWindowMs = 15 * 60_000;
/** Groups (router x result x reason) the summary returns at most. */
export const authLogSummaryGroupsMax = 2000;

export interface AuthLogFilter {
  /** Only attempts at or after this time (required: every query is bounded by time). */
  since: Date;
  routerId?: number;
  result?: AuthResult;
  reason?: string;
  /** Case-sensitive prefix of the User-Name as the router sent it. */
  usernamePrefix?: string;
}

/** Where the previous page stopped: the last row's exact time (UTC, microseconds) and id. */
export interface AuthLogCursor {
  time: string;
  id: string;
}

export interface AuthLogPage {
  rows: AuthAttempt[];
  /** null when this page is the last one. */
  nextCursor: AuthLogCursor | null;
}

const cursorTimeRe = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const tidRe = /^\(\d{1,10},\d{1,5}\)$/;

export function isAuthLogCursor(c: unknown): c is AuthLogCursor {
  if (typeof c !== "object" || c === null) return false;
  const { time, id } = c as Record<string, unknown>;
  return typeof time === "string" && cursorTimeRe.test(time) && typeof id === "string" && tidRe.test(id);
}

/** LIKE pattern matching strings that start with `prefix` (%, _ and \ taken literally). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Newest first across all routers, `limit` rows (<= authLogPageSizeMax) after `cursor`.
 * Keyset paging on (time, ctid): a row inserted while paging never shifts a page, and no
 * row is returned twice or skipped.
 */
export async function authLogPage(
  q: Queryable,
  filter: AuthLogFilter,
  opts: { cursor?: AuthLogCursor | null; limit?: number } = {},
): Promise<AuthLogPage> {
  const limit = Math.max(1, Math.min(opts.limit ?? 50, authLogPageSizeMax));
  const params: unknown[] = [filter.since];
  const where = ["a.time >= $1"];
  const add = (sql: (n: string) => string, v: unknown) => {
    params.push(v);
    where.push(sql(`$${params.length}`));
  };
  if (filter.routerId !== undefined) add((n) => `a.router_id = ${n}`, filter.routerId);
  if (filter.result !== undefined) add((n) => `a.result = ${n}`, filter.result);
  if (filter.reason !== undefined) {
    add((n) => `a.reason = ${n}`, filter.reason);
    // A failure reason only ever comes with a reject or drop: saying so (as a literal) lets
    // the planner use the partial index auth_log_failure_idx.
    if (!authLogAcceptReasons.includes(filter.reason)) where.push("a.result <> 'accept'");
  }
  if (filter.usernamePrefix) add((n) => `a.username LIKE ${n}`, likePrefix(filter.usernamePrefix));
  if (opts.cursor) {
    if (!isAuthLogCursor(opts.cursor)) throw new Error("authLogPage: malformed cursor");
    params.push(opts.cursor.time, opts.cursor.id);
    const t = `$${params.length - 1}::timestamptz`;
    const id = `$${params.length}::tid`;
    // Written so the time part is an index condition; the id only breaks ties.
    where.push(`a.time <= ${t} AND (a.time < ${t} OR a.ctid < ${id})`);
  }
  params.push(limit + 1);
  const r = await q.query<AttemptRow & { cursor_time: string }>(
    `SELECT ${attemptColumns},
            to_char(a.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_time
       FROM auth_log a LEFT JOIN routers r ON r.id = a.router_id
      WHERE ${where.join(" AND ")}
      ORDER BY a.time DESC, a.ctid DESC
      LIMIT $${params.length}`,
    params,
  );
  const more = r.rows.length > limit;
  const rows = more ? r.rows.slice(0, limit) : r.rows;
  const last = rows[rows.length - 1];
  return { rows: rows.map(toAttempt), nextCursor: more && last ? { time: last.cursor_time, id: last.id } : null };
}

export interface AuthLogRouterSummary {
  routerId: number | null;
  routerName: string | null;
  nasIp: string;
  accepts: number;
  rejects: number;
  drops: number;
  rejectsByReason: Record<string, number>;
  dropsByReason: Record<string, number>;
  /**
   * Every request from this router in the window was dropped for a bad authenticator
   * (Message-Authenticator or Request Authenticator): the router's RADIUS shared secret
   * does not match ours.
   */
  wrongSecret: boolean;
}

export interface AuthLogSummary {
  since: Date;
  accepts: number;
  rejects: number;
  drops: number;
  rejectsByReason: Record<string, number>;
  dropsByReason: Record<string, number>;
  /** Routers with any attempt in the window, most problems (rejects + drops) first. */
  routers: AuthLogRouterSummary[];
  /** True when more groups existed than authLogSummaryGroupsMax (the counts are then partial). */
  truncated: boolean;
}

/** Drop reasons that mean the packet's signature did not verify with the router's secret. */
export const badAuthenticatorDropReasons: readonly string[] = ["bad_message_authenticator", "bad_authenticator"];

/** Counts by router, result and reason since `since` (the NOC strip: the last 15 minutes). */
export async function authLogSummary(q: Queryable, since: Date): Promise<AuthLogSummary> {
  const r = await q.query<{ router_id: number | null; router_name: string | null; nas_ip: string; result: AuthResult; reason: string; n: number }>(
    `SELECT a.router_id, max(r.name) AS router_name, host(a.nas_ip) AS nas_ip, a.result, a.reason, count(*)::int AS n
       FROM auth_log a LEFT JOIN routers r ON r.id = a.router_id
      WHERE a.time >= $1
      GROUP BY a.router_id, a.nas_ip, a.result, a.reason
      LIMIT $2`,
    [since, authLogSummaryGroupsMax + 1],
  );
  const truncated = r.rows.length > authLogSummaryGroupsMax;
  const out: AuthLogSummary = { since, accepts: 0, rejects: 0, drops: 0, rejectsByReason: {}, dropsByReason: {}, routers: [], truncated };
  const byRouter = new Map<string, AuthLogRouterSummary & { badAuth: number }>();
  for (const g of r.rows.slice(0, authLogSummaryGroupsMax)) {
    const key = `${g.router_id ?? ""}|${g.nas_ip}`;
    let s = byRouter.get(key);
    if (!s) {
      s = { routerId: g.router_id, routerName: g.router_name, nasIp: g.nas_ip, accepts: 0, rejects: 0, drops: 0, rejectsByReason: {}, dropsByReason: {}, wrongSecret: false, badAuth: 0 };
      byRouter.set(key, s);
    }
    if (g.result === "accept") {
      s.accepts += g.n;
      out.accepts += g.n;
    } else if (g.result === "reject") {
      s.rejects += g.n;
      out.rejects += g.n;
      s.rejectsByReason[g.reason] = (s.rejectsByReason[g.reason] ?? 0) + g.n;
      out.rejectsByReason[g.reason] = (out.rejectsByReason[g.reason] ?? 0) + g.n;
    } else {
      s.drops += g.n;
      out.drops += g.n;
      s.dropsByReason[g.reason] = (s.dropsByReason[g.reason] ?? 0) + g.n;
      out.dropsByReason[g.reason] = (out.dropsByReason[g.reason] ?? 0) + g.n;
      if (badAuthenticatorDropReasons.includes(g.reason)) s.badAuth += g.n;
    }
  }
  out.routers = [...byRouter.values()]
    .map(({ badAuth, ...s }) => ({ ...s, wrongSecret: badAuth > 0 && badAuth === s.accepts + s.rejects + s.drops }))
    .sort((a, b) => b.rejects + b.drops - (a.rejects + a.drops) || (a.routerName ?? a.nasIp).localeCompare(b.routerName ?? b.nasIp));
  return out;
}
