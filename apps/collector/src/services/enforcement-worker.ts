// Carries out the enforcement outbox (docs/architecture.md): LISTEN `enforcement` for
// speed, a sweep for what LISTEN missed (collector down, connection dropped) and for rows
// left `sending` by a crashed worker (their lock expired). Rows are claimed with
// FOR UPDATE SKIP LOCKED, so several workers never send the same action twice at once.
import type pg from "pg";
import { NodeRouterOsAdapter, RestRouterOsAdapter, RouterOsError, type RouterOsAdapter } from "@isp/network/routeros/adapter";
import { mikrotikRateLimit } from "@isp/network/radius/rate-limit";
import type { Logger } from "../log";
import type { EnforcementResultEvent } from "./live-hub";
import { createPgListener, type PgListener } from "./pg-listener";

export interface DisconnectRequest {
  host: string;
  port: number;
  secret: string;
  userName: string;
  acctSessionId: string | null;
  framedIp: string | null;
  nasIpAddress: string | null;
  /** Default "disconnect": a Disconnect-Request; "coa": a CoA-Request carrying `attributes`. */
  code?: "disconnect" | "coa";
  /** Extra attributes for a CoA-Request (Mikrotik-Rate-Limit, Mikrotik-Address-List). */
  attributes?: [string, string][];
}

export interface DisconnectAnswer {
  outcome: "ack" | "nak" | "timeout";
  errorCause?: number | null;
  latencyMs: number;
}

/** Sends one Disconnect-Request (with its own per-attempt retransmits) and reports the answer. */
export type DisconnectSender = (req: DisconnectRequest) => Promise<DisconnectAnswer>;

export interface EnforcementWorkerConfig {
  /** Actions being sent at once; also the most rows one claim takes. */
  inFlightMax: number;
  /** How often to look for rows LISTEN did not deliver. */
  sweepIntervalMs: number;
  /** A claimed row is someone else's to retry after this long (crash recovery). */
  lockMs: number;
  /** Backoff before retry n (n >= 1) is backoffBaseMs * 2^(n-1), capped at backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** RouterOS adapter timeouts and its own per-operation tries (docs/routeros.md). */
  adapterTimeoutMs: number;
  adapterAttemptsMax: number;
  /** Address lists the fallback path maintains. */
  suspendedList: string;
  walledGardenList: string;
}

export const defaultEnforcementConfig: EnforcementWorkerConfig = {
  inFlightMax: 32,
  sweepIntervalMs: 2000,
  lockMs: 30_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  adapterTimeoutMs: 5000,
  adapterAttemptsMax: 2,
  suspendedList: "suspended",
  walledGardenList: "walled-garden",
};

export type EnforcementKind =
  | "disconnect"
  | "kick"
  | "suspend"
  | "restore"
  | "change_plan"
  | "throttle"
  | "walled_garden_on"
  | "walled_garden_off"
  | "terminate";

/** Kinds carried out by ending the session (the next login gets the new state from auth). */
const endsSession = new Set<EnforcementKind>(["disconnect", "kick", "suspend", "terminate", "restore", "walled_garden_off"]);
/** Kinds that fail without a session; the rest are settled by the next login anyway. */
const needsSession = new Set<EnforcementKind>(["disconnect", "kick"]);

export interface RouterAccess {
  id: number;
  name: string;
  ip: string;
  apiKind: "none" | "api" | "rest";
  apiPort: number | null;
  apiUsername: string | null;
  apiPassword: string | null;
  restUrl: string | null;
}

/** Builds the RouterOS adapter for a router (tests and main use the default). */
export type AdapterFactory = (router: RouterAccess, cfg: EnforcementWorkerConfig) => RouterOsAdapter | null;

export const defaultAdapterFactory: AdapterFactory = (r, cfg) => {
  const retry = { attemptsMax: cfg.adapterAttemptsMax, retryDelayMs: 100 };
  if (r.apiKind === "api" && r.apiUsername !== null) {
    return new NodeRouterOsAdapter({
      host: r.ip,
      port: r.apiPort ?? 8728,
      user: r.apiUsername,
      password: r.apiPassword ?? "",
      connectTimeoutMs: cfg.adapterTimeoutMs,
      commandTimeoutMs: cfg.adapterTimeoutMs,
      ...retry,
    });
  }
  if (r.apiKind === "rest" && r.restUrl && r.apiUsername !== null) {
    return new RestRouterOsAdapter({ baseUrl: r.restUrl, user: r.apiUsername, password: r.apiPassword ?? "", requestTimeoutMs: cfg.adapterTimeoutMs, ...retry });
  }
  return null;
};

export function backoffMs(attempt: number, cfg: Pick<EnforcementWorkerConfig, "backoffBaseMs" | "backoffMaxMs">): number {
  return Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
}

interface ClaimedRow {
  id: string;
  kind: EnforcementKind;
  params: { downloadKbps?: number; uploadKbps?: number; planId?: number } | null;
  subscriber_id: number;
  router_id: number | null;
  acct_session_id: string | null;
  attempts: number;
  max_attempts: number;
}

export interface EnforcementCounters {
  claimed: number;
  acked: number;
  nak: number;
  timeouts: number;
  retries: number;
  failed: number;
  errors: number;
  fallbacks: number;
  escalated: number;
}

export interface EnforcementWorker {
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
  /** Claims and processes due rows now (what a NOTIFY or the sweep does). */
  poke(): void;
  /** The router's RouterOS adapter (shared with reconciliation); null when it has none. */
  adapterFor(router: RouterAccess): RouterOsAdapter | null;
  readonly inFlight: number;
  readonly counters: EnforcementCounters;
}

const CLAIM_SQL = `
UPDATE enforcement_outbox o
   SET status = 'sending', locked_until = now() + make_interval(secs => $2::double precision / 1000), attempts = o.attempts + 1
 WHERE o.id IN (
   SELECT id FROM enforcement_outbox
    WHERE (status = 'pending' AND next_attempt_at <= now())
       OR (status = 'sending' AND locked_until < now())
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING o.id::text AS id, o.kind::text AS kind, o.params, o.subscriber_id, o.router_id, o.acct_session_id, o.attempts, o.max_attempts`;

export function createEnforcementWorker(deps: {
  pool: pg.Pool;
  databaseUrl: string;
  send: DisconnectSender;
  emit: (event: EnforcementResultEvent) => void;
  log: Logger;
  config?: Partial<EnforcementWorkerConfig>;
  adapterFactory?: AdapterFactory;
}): EnforcementWorker {
  const cfg = { ...defaultEnforcementConfig, ...deps.config };
  const { pool, log } = deps;
  const counters: EnforcementCounters = { claimed: 0, acked: 0, nak: 0, timeouts: 0, retries: 0, failed: 0, errors: 0, fallbacks: 0, escalated: 0 };
  const adapterFactory = deps.adapterFactory ?? defaultAdapterFactory;
  // One adapter per router, opened on first use; rebuilt when the router's access changes.
  const adapters = new Map<number, { key: string; adapter: RouterOsAdapter }>();
  const adapterFor = (r: RouterAccess): RouterOsAdapter | null => {
    const key = JSON.stringify(r);
    const have = adapters.get(r.id);
    if (have?.key === key) return have.adapter;
    if (have) void have.adapter.close().catch(() => undefined);
    const adapter = adapterFactory(r, cfg);
    if (adapter) adapters.set(r.id, { key, adapter });
    else adapters.delete(r.id);
    return adapter;
  };
  let inFlight = 0;
  let pumping = false;
  let again = false;
  let stopped = true;
  let sweep: NodeJS.Timeout | null = null;
  let listener: PgListener | null = null;
  const running = new Set<Promise<void>>();

  const finish = async (
    row: ClaimedRow,
    status: EnforcementResultEvent["status"],
    fields: {
      routerLatencyMs?: number | null;
      errorCause?: number | null;
      message: string;
      result?: object;
      stopSessionId?: string | null;
      path?: "coa" | "disconnect" | "api" | "rest" | null;
      errorCode?: string | null;
      escalated?: boolean;
    },
  ): Promise<void> => {
    const escalated = fields.escalated ?? false;
    // One statement (one round trip, atomic): the row, our stale session on a NAK 503, the
    // audit row with the click-to-answer time, and the escalation row.
    const r = await pool.query<{ total_latency_ms: number }>(
      `WITH u AS (
         UPDATE enforcement_outbox
            SET status = $2, completed_at = now(), locked_until = NULL,
                router_latency_ms = $3, error_cause = $4, last_error = $5, result = $6::jsonb,
                path = $7::enforcement_path, error_code = $8, escalated = $9,
                total_latency_ms = GREATEST(0, round(extract(epoch FROM (now() - requested_at)) * 1000))::int
          WHERE id = $1::bigint
          RETURNING total_latency_ms),
       stale AS (
         UPDATE radius_sessions SET status = 'stopped', stopped_at = now(), terminate_cause = COALESCE(terminate_cause, 'Session-Not-Found')
          WHERE $10::bigint IS NOT NULL AND id = $10::bigint AND status = 'active'),
       audit AS (
         INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
         SELECT 'collector', $11, 'subscriber', $12, $13::jsonb || jsonb_build_object('totalLatencyMs', u.total_latency_ms) FROM u),
       esc AS (
         INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
         SELECT 'collector', 'enforcement.escalated', 'subscriber', $12, $14::jsonb FROM u WHERE $9)
       SELECT total_latency_ms FROM u`,
      [
        row.id,
        status,
        fields.routerLatencyMs ?? null,
        fields.errorCause ?? null,
        status === "acked" ? null : fields.message,
        JSON.stringify({ status, message: fields.message, path: fields.path ?? null, errorCode: fields.errorCode ?? null, ...fields.result }),
        fields.path ?? null,
        fields.errorCode ?? null,
        escalated,
        // NAK 503: the router has no such session, so ours is stale; close it.
        fields.stopSessionId ?? null,
        `enforcement.${status}`,
        String(row.subscriber_id),
        JSON.stringify({
          actionId: row.id,
          kind: row.kind,
          attempts: row.attempts,
          path: fields.path ?? null,
          routerLatencyMs: fields.routerLatencyMs ?? null,
          errorCause: fields.errorCause ?? null,
          errorCode: fields.errorCode ?? null,
          message: fields.message,
        }),
        // The NOC's queue of actions that need a human: audit rows with this action.
        JSON.stringify({ actionId: row.id, kind: row.kind, status, message: fields.message, errorCode: fields.errorCode ?? null }),
      ],
    );
    const totalLatencyMs = r.rows[0]?.total_latency_ms ?? null;
    counters[status === "acked" ? "acked" : status === "nak" ? "nak" : status === "timeout" ? "timeouts" : "failed"]++;
    if (escalated) counters.escalated++;
    deps.emit({
      actionId: row.id,
      subscriberId: row.subscriber_id,
      kind: row.kind,
      status,
      routerLatencyMs: fields.routerLatencyMs ?? null,
      totalLatencyMs,
      errorCause: fields.errorCause ?? null,
      message: fields.message,
      path: fields.path ?? null,
      errorCode: fields.errorCode ?? null,
      escalated,
    });
    log.info(`enforcement ${row.id} ${status}`, { subscriberId: row.subscriber_id, totalLatencyMs, errorCause: fields.errorCause ?? null });
  };

  const scheduleRetry = async (row: ClaimedRow, message: string): Promise<void> => {
    const delay = backoffMs(row.attempts, cfg);
    await pool.query(
      `WITH u AS (
         UPDATE enforcement_outbox SET status = 'pending', locked_until = NULL, last_error = $2,
                next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
          WHERE id = $1::bigint)
       INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
       VALUES ('collector', 'enforcement.retry', 'subscriber', $4, $5::jsonb)`,
      [row.id, message, delay, String(row.subscriber_id), JSON.stringify({ actionId: row.id, attempts: row.attempts, retryInMs: delay, message })],
    );
    counters.retries++;
    log.info(`enforcement ${row.id} retry in ${delay}ms`, { attempts: row.attempts, message });
  };

  const handle = async (row: ClaimedRow): Promise<void> => {
    if (row.attempts > row.max_attempts) return finish(row, "timeout", { message: "attempts exhausted", escalated: true });

    // Session, router and plan in one round trip (the click-to-ACK path).
    const q = await pool.query<
      {
        session_id: string | null;
        acct_session_id: string | null;
        session_username: string | null;
        framed_ip: string | null;
        pppoe_username: string | null;
        download_kbps: number | null;
        upload_kbps: number | null;
        wg_list: string | null;
        coa_port: number | null;
        radius_secret: string | null;
      } & { [K in keyof RouterAccess]: RouterAccess[K] | null }
    >(
      `WITH s AS (
         SELECT id::text, acct_session_id, username, host(framed_ip) AS framed_ip, router_id
           FROM radius_sessions
          WHERE subscriber_id = $1
            AND ($2::text IS NULL OR acct_session_id = $2)
            AND ($3::int IS NULL OR router_id = $3)
            AND ($2::text IS NOT NULL OR status = 'active')
          ORDER BY (status = 'active') DESC, started_at DESC
          LIMIT 1)
       SELECT s.id AS session_id, s.acct_session_id, s.username AS session_username, s.framed_ip,
              sub.pppoe_username, p.download_kbps, p.upload_kbps, p.walled_garden_address_list AS wg_list,
              r.id, r.name, host(r.ip_address) AS ip, r.coa_port, r.radius_secret, r.api_kind::text AS "apiKind", r.api_port AS "apiPort",
              r.api_username AS "apiUsername", r.api_password AS "apiPassword", r.rest_url AS "restUrl"
         FROM (SELECT 1) one
         LEFT JOIN s ON true
         LEFT JOIN subscribers sub ON sub.id = $1
         LEFT JOIN plans p ON p.id = sub.plan_id
         LEFT JOIN routers r ON r.id = COALESCE(s.router_id, $3::int)`,
      [row.subscriber_id, row.acct_session_id, row.acct_session_id ? row.router_id : null],
    );
    const x = q.rows[0];
    const session = x?.session_id ? { id: x.session_id, acct_session_id: x.acct_session_id, username: x.session_username, framed_ip: x.framed_ip } : null;
    if (!session && !(row.acct_session_id && row.router_id)) {
      if (needsSession.has(row.kind)) return finish(row, "failed", { message: "no active session" });
      // Offline: the new state (status, plan) is what auth answers at the next login.
      return finish(row, "acked", { message: "Subscriber offline; applies at next login" });
    }
    if (!x || x.id === null || x.name === null || x.ip === null || x.coa_port === null || x.radius_secret === null) {
      return finish(row, "failed", { message: "router not found" });
    }
    const router: RouterAccess & { coa_port: number; radius_secret: string } = {
      id: x.id,
      name: x.name,
      ip: x.ip,
      apiKind: x.apiKind ?? "none",
      apiPort: x.apiPort,
      apiUsername: x.apiUsername,
      apiPassword: x.apiPassword,
      restUrl: x.restUrl,
      coa_port: x.coa_port,
      radius_secret: x.radius_secret,
    };
    const sub = x.pppoe_username === null ? undefined : { pppoe_username: x.pppoe_username, download_kbps: x.download_kbps ?? 0, upload_kbps: x.upload_kbps ?? 0, wg_list: x.wg_list };
    const userName = session?.username ?? sub?.pppoe_username ?? "";
    const framedIp = session?.framed_ip ?? null;
    // change_plan carries the rate it was asked for; a later plan change is its own row.
    const rate = {
      downloadKbps: row.params?.downloadKbps ?? sub?.download_kbps ?? 0,
      uploadKbps: row.params?.uploadKbps ?? sub?.upload_kbps ?? 0,
    };
    const wgList = sub?.wg_list ?? cfg.walledGardenList;

    const isDisconnect = endsSession.has(row.kind);
    const attributes: [string, string][] = [];
    if (row.kind === "change_plan" || row.kind === "throttle") attributes.push(["Mikrotik-Rate-Limit", mikrotikRateLimit(rate)]);
    if (row.kind === "walled_garden_on") attributes.push(["Mikrotik-Address-List", wgList]);
    const answer = await deps.send({
      host: router.ip,
      port: router.coa_port,
      secret: router.radius_secret,
      userName,
      acctSessionId: session?.acct_session_id ?? row.acct_session_id,
      framedIp,
      nasIpAddress: router.ip.includes(":") ? null : router.ip,
      code: isDisconnect ? "disconnect" : "coa",
      ...(attributes.length ? { attributes } : {}),
    });
    const radiusPath = isDisconnect ? "disconnect" : "coa";
    const result = { routerId: router.id, routerName: router.name, acctSessionId: session?.acct_session_id ?? row.acct_session_id, attempts: row.attempts };
    if (answer.outcome === "ack") {
      return finish(row, "acked", { routerLatencyMs: answer.latencyMs, message: `${describe(row.kind, rate)} confirmed by ${router.name}`, result, path: radiusPath });
    }
    const cause = answer.outcome === "nak" ? (answer.errorCause ?? null) : null;
    if (cause === 503) {
      // 503 Session-Context-Not-Found: the session is already gone; for a session-ending
      // action that is what was asked, for a change the next login gets the new state.
      return finish(row, "nak", {
        routerLatencyMs: answer.latencyMs,
        errorCause: cause,
        message: `Session already gone on ${router.name}`,
        result,
        stopSessionId: session?.id ?? null,
        path: radiusPath,
      });
    }

    const radiusFailure = answer.outcome === "nak" ? `${router.name} refused (Error-Cause ${cause ?? "none"})` : `${router.name} did not answer`;
    const adapter = adapterFor(router);
    if (adapter) {
      counters.fallbacks++;
      const apiPath = router.apiKind === "rest" ? "rest" : "api";
      const t0 = performance.now();
      try {
        await fallback(adapter, row.kind, { userName, framedIp, rate, wgList, subscriberId: row.subscriber_id });
        const latency = Math.round(performance.now() - t0);
        return finish(row, "acked", {
          routerLatencyMs: latency,
          errorCause: cause,
          message: `${describe(row.kind, rate)} confirmed by ${router.name} via ${apiPath} (${radiusFailure})`,
          result: { ...result, radius: answer.outcome },
          path: apiPath,
        });
      } catch (err) {
        const e = err instanceof RouterOsError ? err : new RouterOsError("trap", (err as Error).message);
        const message = `${radiusFailure}; ${apiPath} failed: ${e.message}`;
        if (e.retryable && row.attempts < row.max_attempts) return scheduleRetry(row, message);
        return finish(row, e.retryable ? "timeout" : "failed", {
          errorCause: cause,
          errorCode: e.code,
          message,
          result,
          path: apiPath,
          escalated: true,
        });
      }
    }
    if (answer.outcome === "nak") {
      return finish(row, "nak", { routerLatencyMs: answer.latencyMs, errorCause: cause, message: radiusFailure, result, path: radiusPath, escalated: true });
    }
    if (row.attempts >= row.max_attempts) {
      return finish(row, "timeout", { message: `${router.name} did not answer after ${row.attempts} attempts`, result, path: radiusPath, escalated: true });
    }
    return scheduleRetry(row, radiusFailure);
  };

  const fallback = async (
    a: RouterOsAdapter,
    kind: EnforcementKind,
    x: { userName: string; framedIp: string | null; rate: { downloadKbps: number; uploadKbps: number }; wgList: string; subscriberId: number },
  ): Promise<void> => {
    const comment = `sub ${x.subscriberId}`;
    switch (kind) {
      case "disconnect":
      case "kick":
      case "terminate":
        await a.removeActiveSession({ name: x.userName });
        return;
      case "suspend":
        if (x.framedIp) await a.addToAddressList(cfg.suspendedList, x.framedIp, comment);
        await a.removeActiveSession({ name: x.userName });
        return;
      case "restore":
        if (x.framedIp) await a.removeFromAddressList(cfg.suspendedList, x.framedIp);
        await a.removeActiveSession({ name: x.userName });
        return;
      case "change_plan":
      case "throttle":
        await a.setQueueRate(x.userName, x.rate, { comment });
        return;
      case "walled_garden_on":
        if (!x.framedIp) throw new RouterOsError("not-found", "session has no address");
        await a.addToAddressList(x.wgList, x.framedIp, comment);
        return;
      case "walled_garden_off":
        if (x.framedIp) await a.removeFromAddressList(x.wgList, x.framedIp);
        return;
    }
  };

  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        const room = cfg.inFlightMax - inFlight;
        if (stopped || room <= 0) break;
        const claimed = await pool.query<ClaimedRow>(CLAIM_SQL, [room, cfg.lockMs]);
        counters.claimed += claimed.rows.length;
        for (const row of claimed.rows) {
          inFlight++;
          const p = handle(row)
            .catch((err: Error) => {
              // The row stays `sending`; its lock expiring hands it to the sweep again.
              counters.errors++;
              log.error(`enforcement ${row.id} failed to process`, { error: err.message });
            })
            .finally(() => {
              inFlight--;
              running.delete(p);
              void pump();
            });
          running.add(p);
        }
        if (claimed.rows.length === room) again = true; // there may be more waiting
      } while (again && !stopped);
    } catch (err) {
      counters.errors++;
      log.warn("enforcement claim failed", { error: (err as Error).message });
    } finally {
      pumping = false;
    }
  };

  return {
    async start() {
      stopped = false;
      listener = createPgListener({
        url: deps.databaseUrl,
        channels: ["enforcement"],
        onNotify: () => void pump(),
        onReconnect: () => void pump(),
        log: log.child("listen"),
      });
      await listener.start();
      sweep = setInterval(() => void pump(), cfg.sweepIntervalMs);
      void pump(); // drain whatever piled up while the collector was down
    },
    async stop(deadlineMs = 5000) {
      stopped = true;
      if (sweep) clearInterval(sweep);
      sweep = null;
      await listener?.stop();
      listener = null;
      // Let in-flight sends finish so their answers are recorded; past the deadline the
      // rows stay `sending` and are recovered by the next start's sweep.
      await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
      await Promise.allSettled([...adapters.values()].map((x) => x.adapter.close()));
      adapters.clear();
    },
    poke() {
      void pump();
    },
    adapterFor,
    get inFlight() {
      return inFlight;
    },
    counters,
  };
}

function describe(kind: EnforcementKind, rate: { downloadKbps: number; uploadKbps: number }): string {
  const r = `${rate.downloadKbps}/${rate.uploadKbps} kbps`;
  switch (kind) {
    case "change_plan":
      return `Rate ${r}`;
    case "throttle":
      return `Throttle to ${r}`;
    case "walled_garden_on":
      return "Walled garden on";
    case "walled_garden_off":
      return "Walled garden off";
    case "suspend":
      return "Suspend";
    case "restore":
      return "Restore";
    case "terminate":
      return "Terminate";
    default:
      return "Disconnect";
  }
}
