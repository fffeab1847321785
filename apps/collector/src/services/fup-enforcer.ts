// Fair-usage policy at the moment the quota is crossed (docs/enforcement.md, "Fair usage").
// Right after each usage-cache refresh (60 s), one pass:
//  1. month rollover: a subscriber the FUP throttled in an earlier month, still on the plan
//     it throttled, online in a session that began before this month, under this month's
//     quota, active and not overruled by anyone since (no `subscriber.*` action by another
//     actor after the FUP's) gets the plan rate back: `change_plan` to the same plan (CoA
//     with the plan's rate, no state change, no proration: "same plan"), or a `throttle` at
//     the plan's rate when the plan is retired (change_plan refuses retired plans);
//  2. crossing: a subscriber at or past the quota, active, online, not in the walled
//     garden, not already held at or below the FUP rate by an operator's throttle in this
//     session, and not yet throttled by the FUP this month on this plan, gets one
//     `throttle` (the plan's FUP rates) with actor "fup".
// Both go through requestEnforcement (outbox row + audit row + NOTIFY, one statement), so
// the enforcement worker sends the CoA (or the RouterOS fallback) and records the answer.
// The durable marker is the audit row itself (actor "fup", action `subscriber.throttle`,
// reason "fair-usage quota …", `after.planId`): no schema change, and a second pass, a
// restart or a second collector finds it. Each action is requested in a transaction that
// locks the subscriber and checks again, so two collectors never throttle twice and a
// suspend that lands between the pass's read and the request is never overwritten.
import type pg from "pg";
import { requestEnforcement, type EnforcementRequest, type RawQueryable } from "@isp/db/outbox";
import type { Logger } from "../log";
import { fupSubscribersMax, type UsageCache } from "./caches";

export const fupActor = "fup";
/** Every FUP throttle's reason starts with this; the marker query keys on it. */
export const fupThrottleReasonPrefix = "fair-usage quota ";
/** Every month-rollover action's reason starts with this. */
export const fupRestoreReasonPrefix = "fair-usage: new month ";

export interface FupEnforcerConfig {
  /** Throttles requested per pass at most, and as many restores; the rest wait for the next pass. Default 500. */
  actionsPerPassMax: number;
}

export const defaultFupEnforcerConfig: FupEnforcerConfig = { actionsPerPassMax: 500 };

/** Why an over-quota subscriber was not throttled in a pass (not counted: already throttled this month). */
export type FupSkip = "suspended" | "terminated" | "pending" | "expired" | "offline" | "walled_garden" | "operator_throttle";

export interface FupPassResult {
  /** The usage cache's month (UTC); null: the cache was never refreshed, nothing was done. */
  monthStart: Date | null;
  /** Over quota in the usage cache and not known to be throttled this month. */
  checked: number;
  throttled: number;
  restored: number;
  skipped: Partial<Record<FupSkip, number>>;
  /** Eligible but over actionsPerPassMax: next pass. */
  deferred: number;
  errors: number;
  durationMs: number;
}

export interface FupEnforcer {
  /** One pass on the usage cache's current counters (a pass already running is joined). */
  run(): Promise<FupPassResult>;
  /** Resolves when no pass is running (collector stop). */
  idle(): Promise<void>;
  readonly counters: { passes: number; throttled: number; restored: number; errors: number };
}

/** Decimal units, one decimal, truncated (so "100 GB" is never shown for 99.96 GB). */
export function formatBytes(bytes: bigint): string {
  const units: [string, number][] = [
    ["TB", 1e12],
    ["GB", 1e9],
    ["MB", 1e6],
    ["kB", 1e3],
  ];
  const n = Number(bytes);
  for (const [unit, size] of units) {
    if (n >= size) return `${(Math.floor((n / size) * 10) / 10).toFixed(1).replace(/\.0$/, "")} ${unit}`;
  }
  return `${n} B`;
}

export function throttleReason(quotaBytes: bigint, bytes: bigint): string {
  return `${fupThrottleReasonPrefix}${formatBytes(quotaBytes)} passed (${formatBytes(bytes)} this month)`;
}

export function restoreReason(monthStart: Date, rate: { downloadKbps: number; uploadKbps: number }): string {
  return `${fupRestoreReasonPrefix}${monthStart.toISOString().slice(0, 7)}, plan rate ${rate.downloadKbps}/${rate.uploadKbps} kbps restored`;
}

// $1 subscriber ids and $2 their month-to-date bytes (over quota in the cache), $3 the
// cache's month start. One row per subscriber still over the quota of the plan they are on
// now: `marked` = the FUP throttled them this month on this plan (the durable marker);
// `skip` = why they must not be throttled now (null: throttle). The session is the newest
// active one (what requestEnforcement targets). "In this session" = audit rows at or after
// its start: a walled_garden_on by anyone, or an operator's latest rate action being a
// throttle at or below the FUP rate (raising it to the FUP rate would undo it).
const THROTTLE_SQL = `
SELECT s.id, s.plan_id, o.bytes::text AS bytes, p.fup_quota_bytes::text AS quota,
       EXISTS (SELECT 1 FROM audit_log a
                WHERE a.entity_type = 'subscriber' AND a.entity_id = s.id::text AND a.at >= $3::timestamptz
                  AND a.actor = '${fupActor}' AND a.action = 'subscriber.throttle'
                  AND a.details->>'reason' LIKE '${fupThrottleReasonPrefix}%'
                  AND a.details->'after'->>'planId' = s.plan_id::text) AS marked,
       CASE
         WHEN s.status <> 'active' THEN s.status::text
         WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 'expired'
         WHEN r.started_at IS NULL THEN 'offline'
         WHEN EXISTS (SELECT 1 FROM audit_log w
                       WHERE w.entity_type = 'subscriber' AND w.entity_id = s.id::text AND w.at >= r.started_at
                         AND w.action = 'subscriber.walled_garden_on') THEN 'walled_garden'
         WHEN op.action = 'subscriber.throttle'
              AND (op.params->>'downloadKbps')::int <= COALESCE(p.fup_download_kbps, p.download_kbps)
              AND (op.params->>'uploadKbps')::int <= COALESCE(p.fup_upload_kbps, p.upload_kbps) THEN 'operator_throttle'
       END AS skip
  FROM unnest($1::int[], $2::bigint[]) AS o(id, bytes)
  JOIN subscribers s ON s.id = o.id
  JOIN plans p ON p.id = s.plan_id
  LEFT JOIN LATERAL (
    SELECT r.started_at FROM radius_sessions r
     WHERE r.subscriber_id = s.id AND r.status = 'active'
     ORDER BY r.started_at DESC LIMIT 1) r ON true
  LEFT JOIN LATERAL (
    SELECT a.action, a.details->'params' AS params FROM audit_log a
     WHERE a.entity_type = 'subscriber' AND a.entity_id = s.id::text AND r.started_at IS NOT NULL AND a.at >= r.started_at
       AND a.actor <> '${fupActor}' AND a.action IN ('subscriber.throttle', 'subscriber.change_plan')
     ORDER BY a.at DESC, a.id DESC LIMIT 1) op ON true
 WHERE p.fup_quota_bytes IS NOT NULL AND o.bytes >= p.fup_quota_bytes
 ORDER BY s.id`;

// $1 the month start, $2 ids over quota this month (never restored), $3 limit, $4 one
// subscriber (the re-check under its lock) or null. The latest FUP audit row per subscriber
// since the start of the previous month; candidates are those whose latest is a FUP
// throttle from before this month, on the plan they are still on, with an active session
// that began before this month (a session begun since got its rate from auth with this
// month's usage), active and not expired, and no enforcement action by anyone else since.
const RESTORE_SQL = `
WITH f AS (
  SELECT DISTINCT ON (a.entity_id) a.entity_id, a.at, a.action, a.details
    FROM audit_log a
   WHERE a.actor = '${fupActor}' AND a.entity_type = 'subscriber'
     AND a.at >= (($1::timestamptz AT TIME ZONE 'UTC') - interval '1 month') AT TIME ZONE 'UTC'
     AND ($4::int IS NULL OR a.entity_id = $4::int::text)
   ORDER BY a.entity_id, a.at DESC, a.id DESC)
SELECT s.id, s.plan_id, p.active AS plan_active, p.download_kbps, p.upload_kbps
  FROM f
  JOIN subscribers s ON s.id::text = f.entity_id
  JOIN plans p ON p.id = s.plan_id
 WHERE f.at < $1::timestamptz AND f.action = 'subscriber.throttle' AND f.details->>'reason' LIKE '${fupThrottleReasonPrefix}%'
   AND f.details->'after'->>'planId' = s.plan_id::text
   AND s.status = 'active' AND (s.expires_at IS NULL OR s.expires_at > now())
   AND NOT (s.id = ANY($2::int[]))
   AND EXISTS (SELECT 1 FROM radius_sessions r WHERE r.subscriber_id = s.id AND r.status = 'active' AND r.started_at < $1::timestamptz)
   AND NOT EXISTS (SELECT 1 FROM audit_log x
                    WHERE x.entity_type = 'subscriber' AND x.entity_id = f.entity_id AND x.at > f.at
                      AND x.actor <> '${fupActor}' AND x.action LIKE 'subscriber.%')
 ORDER BY s.id
 LIMIT $3::int`;

interface ThrottleRow {
  id: number;
  plan_id: number;
  bytes: string;
  quota: string;
  marked: boolean;
  skip: FupSkip | null;
}

interface RestoreRow {
  id: number;
  plan_id: number;
  plan_active: boolean;
  download_kbps: number;
  upload_kbps: number;
}

/** requestEnforcement on a pg client (it only needs `$queryRawUnsafe`, returning rows). */
function rawOn(client: pg.PoolClient): RawQueryable {
  const raw = { $queryRawUnsafe: (query: string, ...values: unknown[]) => client.query(query, values).then((r) => r.rows) };
  // A plain promise of rows is all requestEnforcement uses of Prisma's PrismaPromise.
  return raw as unknown as RawQueryable;
}

export function createFupEnforcer(deps: {
  pool: pg.Pool;
  usage: Pick<UsageCache, "monthStart" | "overQuota">;
  log: Logger;
  config?: Partial<FupEnforcerConfig>;
}): FupEnforcer {
  const cfg: FupEnforcerConfig = { ...defaultFupEnforcerConfig, ...deps.config };
  const { pool, log } = deps;
  const counters = { passes: 0, throttled: 0, restored: 0, errors: 0 };
  // `<subscriber>:<plan>` known to be throttled by the FUP in `knownMonth`, so later passes
  // do not ask the database about them again. Lost on restart (the audit rows are the truth).
  let knownMonth = 0;
  const known = new Set<string>();
  // The month whose rollover restores are all requested (the query runs until then: at
  // every process start and month change, and while a pass hits actionsPerPassMax).
  let restoredMonth = 0;
  let running: Promise<FupPassResult> | null = null;

  /** BEGIN, lock the subscriber, re-check with `check`, request, COMMIT; false when the re-check says no. */
  const requestLocked = async (subscriberId: number, check: (c: pg.PoolClient) => Promise<boolean>, req: EnforcementRequest): Promise<boolean> => {
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE", [subscriberId]);
      if (!(await check(c))) {
        await c.query("ROLLBACK");
        return false;
      }
      await requestEnforcement(rawOn(c), req);
      await c.query("COMMIT");
      return true;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  };

  const restorePass = async (monthStart: Date, overIds: number[], out: FupPassResult): Promise<void> => {
    const month = monthStart.getTime();
    if (restoredMonth === month) return;
    const limit = cfg.actionsPerPassMax;
    const rows = (await pool.query<RestoreRow>(RESTORE_SQL, [monthStart, overIds, limit, null])).rows;
    let failed = 0;
    for (const r of rows) {
      const rate = { downloadKbps: r.download_kbps, uploadKbps: r.upload_kbps };
      const reason = restoreReason(monthStart, rate);
      // change_plan to the plan they are on: the plan's rate by CoA, nothing else changes.
      // A retired plan refuses change_plan; a throttle at the plan's rate does the same on the wire.
      const req: EnforcementRequest = r.plan_active
        ? { kind: "change_plan", subscriberId: r.id, planId: r.plan_id, operatorId: null, actor: fupActor, reason }
        : { kind: "throttle", subscriberId: r.id, rate, operatorId: null, actor: fupActor, reason };
      try {
        const done = await requestLocked(
          r.id,
          async (c) => (await c.query(RESTORE_SQL, [monthStart, overIds, 1, r.id])).rowCount === 1,
          req,
        );
        if (done) {
          out.restored++;
          counters.restored++;
        }
      } catch (err) {
        failed++;
        out.errors++;
        counters.errors++;
        log.warn("fair-usage restore not requested", { subscriberId: r.id, error: (err as Error).message });
      }
    }
    if (rows.length < limit && failed === 0) restoredMonth = month;
  };

  const throttlePass = async (monthStart: Date, out: FupPassResult): Promise<void> => {
    const month = monthStart.getTime();
    if (knownMonth !== month || known.size > 2 * fupSubscribersMax) {
      known.clear();
      knownMonth = month;
    }
    const over = deps.usage.overQuota().filter((o) => !known.has(`${o.subscriberId}:${o.planId}`));
    out.checked = over.length;
    if (over.length === 0) return;
    const ids = over.map((o) => o.subscriberId);
    const bytes = over.map((o) => o.bytes.toString());
    const rows = (await pool.query<ThrottleRow>(THROTTLE_SQL, [ids, bytes, monthStart])).rows;
    for (const r of rows) {
      if (r.marked) {
        known.add(`${r.id}:${r.plan_id}`);
        continue;
      }
      if (r.skip !== null) {
        out.skipped[r.skip] = (out.skipped[r.skip] ?? 0) + 1;
        continue;
      }
      if (out.throttled >= cfg.actionsPerPassMax) {
        out.deferred++;
        continue;
      }
      const req: EnforcementRequest = {
        kind: "throttle",
        subscriberId: r.id,
        operatorId: null,
        actor: fupActor,
        reason: throttleReason(BigInt(r.quota), BigInt(r.bytes)),
      };
      try {
        const done = await requestLocked(
          r.id,
          async (c) => {
            const again = (await c.query<ThrottleRow>(THROTTLE_SQL, [[r.id], [r.bytes], monthStart])).rows[0];
            return again !== undefined && !again.marked && again.skip === null;
          },
          req,
        );
        if (done) {
          out.throttled++;
          counters.throttled++;
          known.add(`${r.id}:${r.plan_id}`);
        }
      } catch (err) {
        out.errors++;
        counters.errors++;
        log.warn("fair-usage throttle not requested", { subscriberId: r.id, error: (err as Error).message });
      }
    }
  };

  const pass = async (): Promise<FupPassResult> => {
    const t0 = performance.now();
    const monthStart = deps.usage.monthStart();
    const out: FupPassResult = { monthStart, checked: 0, throttled: 0, restored: 0, skipped: {}, deferred: 0, errors: 0, durationMs: 0 };
    if (monthStart !== null) {
      // Restores first: at the start of a month they are the time-critical ones.
      await restorePass(
        monthStart,
        deps.usage.overQuota().map((o) => o.subscriberId),
        out,
      );
      await throttlePass(monthStart, out);
    }
    counters.passes++;
    out.durationMs = Math.round(performance.now() - t0);
    if (out.throttled > 0 || out.restored > 0 || out.errors > 0 || out.deferred > 0) {
      log.info("fair-usage pass", {
        throttled: out.throttled,
        restored: out.restored,
        deferred: out.deferred,
        errors: out.errors,
        skipped: out.skipped,
        durationMs: out.durationMs,
      });
    }
    return out;
  };

  return {
    run() {
      running ??= pass().finally(() => (running = null));
      return running;
    },
    async idle() {
      await running?.catch(() => undefined);
    },
    counters,
  };
}
