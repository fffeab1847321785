// Carries out the enforcement outbox (docs/architecture.md): LISTEN `enforcement` for
// speed, a sweep for what LISTEN missed (collector down, connection dropped) and for rows
// left `sending` by a crashed worker (their lock expired). Rows are claimed in batches with
// FOR UPDATE SKIP LOCKED, so several workers never send the same action twice at once; the
// claim statement also reads each row's session, router and plan (one round trip per
// batch; up to claimConcurrencyMax claims at once), the sends run concurrently (at most
// inFlightMax), and the answers are recorded in batches (one statement for whatever
// answers arrived while the writers were busy). docs/enforcement.md.
import type pg from "pg";
import { NodeRouterOsAdapter, RestRouterOsAdapter, RouterOsError, type RouterOsAdapter, type RouterOsTls } from "@isp/network/routeros/adapter";
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
  /** Claim statements running at once; each takes at most inFlightMax / claimConcurrencyMax rows. */
  claimConcurrencyMax: number;
  /** Recording statements running at once, and the most answers one of them writes. */
  recordConcurrencyMax: number;
  recordBatchMax: number;
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
  /** PEM CA bundle (ROUTEROS_CA_FILE) for routers with TLS and no pinned fingerprint; null: the public CAs. */
  routerCaPem: string | null;
  /** Address lists the fallback path maintains. */
  suspendedList: string;
  walledGardenList: string;
}

export const defaultEnforcementConfig: EnforcementWorkerConfig = {
  inFlightMax: 32,
  claimConcurrencyMax: 2,
  recordConcurrencyMax: 2,
  recordBatchMax: 256,
  sweepIntervalMs: 2000,
  lockMs: 30_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  adapterTimeoutMs: 5000,
  adapterAttemptsMax: 2,
  routerCaPem: null,
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
  /** API over api-ssl (default port 8729); for REST, https:// is then required. */
  apiTls: boolean;
  /** SHA-256 of the router's certificate (64 lowercase hex): the pin. */
  tlsFingerprint: string | null;
  /** Accept any certificate (encrypted, not authenticated); ignored when a pin is set. */
  tlsInsecure: boolean;
}

/**
 * The certificate policy for a router (docs/routeros.md, "TLS"): undefined = clear text
 * (API without api_tls, REST over http://). An https:// rest_url is always verified.
 */
export function routerTls(r: RouterAccess, caPem: string | null): RouterOsTls | undefined {
  const https = r.apiKind === "rest" && /^https:/i.test(r.restUrl ?? "");
  if (!r.apiTls && !https) return undefined;
  return { fingerprintSha256: r.tlsFingerprint, ca: caPem, insecure: r.tlsInsecure };
}

/** Builds the RouterOS adapter for a router (tests and main use the default). */
export type AdapterFactory = (router: RouterAccess, cfg: EnforcementWorkerConfig) => RouterOsAdapter | null;

export const defaultAdapterFactory: AdapterFactory = (r, cfg) => {
  const retry = { attemptsMax: cfg.adapterAttemptsMax, retryDelayMs: 100 };
  const tls = routerTls(r, cfg.routerCaPem);
  if (r.apiKind === "api" && r.apiUsername !== null) {
    return new NodeRouterOsAdapter({
      host: r.ip,
      port: r.apiPort ?? (tls ? 8729 : 8728),
      ...(tls ? { tls } : {}),
      user: r.apiUsername,
      password: r.apiPassword ?? "",
      connectTimeoutMs: cfg.adapterTimeoutMs,
      commandTimeoutMs: cfg.adapterTimeoutMs,
      ...retry,
    });
  }
  if (r.apiKind === "rest" && r.restUrl && r.apiUsername !== null) {
    return new RestRouterOsAdapter({ baseUrl: r.restUrl, user: r.apiUsername, password: r.apiPassword ?? "", requestTimeoutMs: cfg.adapterTimeoutMs, ...(tls ? { tls } : {}), ...retry });
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
  /** When the action was requested (epoch ms, the database's clock). */
  requested_ms: number;
  // What the action needs to be sent, read by the claim statement itself.
  session_id: string | null;
  s_acct_session_id: string | null;
  session_username: string | null;
  framed_ip: string | null;
  pppoe_username: string | null;
  download_kbps: number | null;
  upload_kbps: number | null;
  wg_list: string | null;
  r_id: number | null;
  r_name: string | null;
  r_ip: string | null;
  coa_port: number | null;
  radius_secret: string | null;
  api_kind: RouterAccess["apiKind"] | null;
  api_port: number | null;
  api_username: string | null;
  api_password: string | null;
  rest_url: string | null;
  api_tls: boolean | null;
  tls_fingerprint: string | null;
  tls_insecure: boolean | null;
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

/** Where the time goes, for the bench and internals: totals plus the last `statsSamplesMax` samples of each. */
export interface EnforcementStats {
  /** Claim statements and the rows they returned; the largest batch. */
  claims: number;
  claimRowsMax: number;
  /** Recording statements and the answers they wrote; the largest batch. */
  records: number;
  recordRowsMax: number;
  samples: {
    /** Requested (the row's requested_at) to claimed: commit, NOTIFY, waiting for room, the claim statement. */
    queuedMs: number[];
    /** One claim statement (claim + session/router/plan read). */
    claimMs: number[];
    /** The router's answer: send() as a whole (RADIUS round trip incl. retransmits). */
    sendMs: number[];
    /** Answer to recorded: waiting for the batch plus its statement. */
    recordMs: number[];
    /** One recording statement. */
    recordStatementMs: number[];
  };
}

const statsSamplesMax = 4096;

export interface EnforcementWorker {
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
  /** Claims and processes due rows now (what a NOTIFY or the sweep does). */
  poke(): void;
  /** The router's RouterOS adapter (shared with reconciliation); null when it has none. */
  adapterFor(router: RouterAccess): RouterOsAdapter | null;
  readonly inFlight: number;
  readonly counters: EnforcementCounters;
  readonly stats: EnforcementStats;
}

// Claims up to $1 due rows (pending and due, or `sending` with an expired lock) and, in the
// same statement, reads what sending each needs: the session (the row's own when it names
// one, else the subscriber's newest active one), the subscriber's plan and the router.
const CLAIM_SQL = `
WITH c AS (
  UPDATE enforcement_outbox o
     SET status = 'sending', locked_until = now() + make_interval(secs => $2::double precision / 1000), attempts = o.attempts + 1
   WHERE o.id IN (
     SELECT id FROM enforcement_outbox
      WHERE (status = 'pending' AND next_attempt_at <= now())
         OR (status = 'sending' AND locked_until < now())
      ORDER BY next_attempt_at
      LIMIT $1
      FOR UPDATE SKIP LOCKED)
  RETURNING o.id, o.kind, o.params, o.subscriber_id, o.router_id, o.acct_session_id, o.attempts, o.max_attempts, o.requested_at)
SELECT c.id::text AS id, c.kind::text AS kind, c.params, c.subscriber_id, c.router_id, c.acct_session_id, c.attempts, c.max_attempts,
       extract(epoch FROM c.requested_at)::float8 * 1000 AS requested_ms,
       s.id::text AS session_id, s.acct_session_id AS s_acct_session_id, s.username AS session_username, host(s.framed_ip) AS framed_ip,
       sub.pppoe_username, p.download_kbps, p.upload_kbps, p.walled_garden_address_list AS wg_list,
       r.id AS r_id, r.name AS r_name, host(r.ip_address) AS r_ip, r.coa_port, r.radius_secret, r.api_kind::text AS api_kind, r.api_port,
       r.api_username, r.api_password, r.rest_url, r.api_tls, r.tls_fingerprint, r.tls_insecure
  FROM c
  LEFT JOIN LATERAL (
    SELECT rs.id, rs.acct_session_id, rs.username, rs.framed_ip, rs.router_id
      FROM radius_sessions rs
     WHERE rs.subscriber_id = c.subscriber_id
       AND (c.acct_session_id IS NULL OR rs.acct_session_id = c.acct_session_id)
       AND (c.acct_session_id IS NULL OR c.router_id IS NULL OR rs.router_id = c.router_id)
       AND (c.acct_session_id IS NOT NULL OR rs.status = 'active')
     ORDER BY (rs.status = 'active') DESC, rs.started_at DESC
     LIMIT 1) s ON true
  LEFT JOIN subscribers sub ON sub.id = c.subscriber_id
  LEFT JOIN plans p ON p.id = sub.plan_id
  LEFT JOIN routers r ON r.id = COALESCE(s.router_id, CASE WHEN c.acct_session_id IS NOT NULL THEN c.router_id END)`;

// Records a batch of answers ($1: a JSON array, one object per row) in one statement: each
// row's result, our stale session on a NAK 503, the audit row with the click-to-answer
// time, and the escalation row. completed_at (and so total_latency_ms, requested to
// recorded) is this statement's time, after every answer in the batch arrived.
const RECORD_SQL = `
WITH x AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    id bigint, status text, router_latency_ms int, error_cause int, last_error text, result jsonb, path text,
    error_code text, escalated boolean, stop_session_id bigint, subscriber_id text, audit jsonb, esc jsonb)),
u AS (
  UPDATE enforcement_outbox o
     SET status = x.status::enforcement_status, completed_at = now(), locked_until = NULL,
         router_latency_ms = x.router_latency_ms, error_cause = x.error_cause, last_error = x.last_error, result = x.result,
         path = x.path::enforcement_path, error_code = x.error_code, escalated = x.escalated,
         total_latency_ms = GREATEST(0, round(extract(epoch FROM (now() - o.requested_at)) * 1000))::int
    FROM x
   WHERE o.id = x.id
  RETURNING o.id, o.total_latency_ms),
stale AS (
  UPDATE radius_sessions rs SET status = 'stopped', stopped_at = now(), terminate_cause = COALESCE(rs.terminate_cause, 'Session-Not-Found')
    FROM x
   WHERE x.stop_session_id IS NOT NULL AND rs.id = x.stop_session_id AND rs.status = 'active'),
audit AS (
  INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
  SELECT 'collector', 'enforcement.' || x.status, 'subscriber', x.subscriber_id, x.audit || jsonb_build_object('totalLatencyMs', u.total_latency_ms)
    FROM x JOIN u ON u.id = x.id),
esc AS (
  INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
  SELECT 'collector', 'enforcement.escalated', 'subscriber', x.subscriber_id, x.esc
    FROM x JOIN u ON u.id = x.id
   WHERE x.escalated)
SELECT id::text AS id, total_latency_ms FROM u`;

interface Answer {
  routerLatencyMs?: number | null;
  errorCause?: number | null;
  message: string;
  result?: object;
  stopSessionId?: string | null;
  path?: "coa" | "disconnect" | "api" | "rest" | null;
  errorCode?: string | null;
  escalated?: boolean;
}

interface PendingRecord {
  row: ClaimedRow;
  status: EnforcementResultEvent["status"];
  fields: Answer;
  at: number;
  done: (totalLatencyMs: number | null) => void;
  fail: (err: Error) => void;
}

export function createEnforcementWorker(deps: {
  pool: pg.Pool;
  databaseUrl: string;
  send: DisconnectSender;
  emit: (event: EnforcementResultEvent) => void;
  log: Logger;
  config?: Partial<EnforcementWorkerConfig>;
  adapterFactory?: AdapterFactory;
  /** Hook after a row's answer is recorded (the /ppp/secret sync of local-auth routers, secret-sync.ts); must not throw or block. */
  afterFinish?: (subscriberId: number, kind: EnforcementKind) => void;
}): EnforcementWorker {
  const cfg = { ...defaultEnforcementConfig, ...deps.config };
  const { pool, log } = deps;
  const counters: EnforcementCounters = { claimed: 0, acked: 0, nak: 0, timeouts: 0, retries: 0, failed: 0, errors: 0, fallbacks: 0, escalated: 0 };
  const adapterFactory = deps.adapterFactory ?? defaultAdapterFactory;
  // One adapter per router, opened on first use; rebuilt when the router's access changes.
  const adapters = new Map<number, { key: string; adapter: RouterOsAdapter }>();
  const adapterFor = (r: RouterAccess): RouterOsAdapter | null => {
    // Access fields only: callers pass wider rows (the worker's has coa_port, the reconciler's active).
    const key = JSON.stringify([r.ip, r.apiKind, r.apiPort, r.apiUsername, r.apiPassword, r.restUrl, r.apiTls, r.tlsFingerprint, r.tlsInsecure]);
    const have = adapters.get(r.id);
    if (have?.key === key) return have.adapter;
    if (have) void have.adapter.close().catch(() => undefined);
    const adapter = adapterFactory(r, cfg);
    if (adapter) adapters.set(r.id, { key, adapter });
    else adapters.delete(r.id);
    return adapter;
  };
  let inFlight = 0;
  let claiming = 0;
  let reserved = 0;
  let again = false;
  let stopped = true;
  let sweep: NodeJS.Timeout | null = null;
  let listener: PgListener | null = null;
  const running = new Set<Promise<void>>();

  const stats: EnforcementStats = {
    claims: 0,
    claimRowsMax: 0,
    records: 0,
    recordRowsMax: 0,
    samples: { queuedMs: [], claimMs: [], sendMs: [], recordMs: [], recordStatementMs: [] },
  };
  const sample = (into: number[], v: number) => {
    if (into.length >= statsSamplesMax) into.shift();
    into.push(Math.round(v * 10) / 10);
  };

  // Answers waiting to be recorded; at most one per in-flight row, so bounded by inFlightMax.
  let recordQueue: PendingRecord[] = [];
  let recording = 0;

  const writeRecords = async (batch: PendingRecord[]): Promise<Map<string, number | null>> => {
    const items = batch.map(({ row, status, fields }) => ({
      id: row.id,
      status,
      router_latency_ms: fields.routerLatencyMs == null ? null : Math.round(fields.routerLatencyMs),
      error_cause: fields.errorCause ?? null,
      last_error: status === "acked" ? null : fields.message,
      result: { status, message: fields.message, path: fields.path ?? null, errorCode: fields.errorCode ?? null, ...fields.result },
      path: fields.path ?? null,
      error_code: fields.errorCode ?? null,
      escalated: fields.escalated ?? false,
      // NAK 503: the router has no such session, so ours is stale; close it.
      stop_session_id: fields.stopSessionId ?? null,
      subscriber_id: String(row.subscriber_id),
      audit: {
        actionId: row.id,
        kind: row.kind,
        attempts: row.attempts,
        path: fields.path ?? null,
        routerLatencyMs: fields.routerLatencyMs ?? null,
        errorCause: fields.errorCause ?? null,
        errorCode: fields.errorCode ?? null,
        message: fields.message,
      },
      // The NOC's queue of actions that need a human: audit rows with this action.
      esc: { actionId: row.id, kind: row.kind, status, message: fields.message, errorCode: fields.errorCode ?? null },
    }));
    const r = await pool.query<{ id: string; total_latency_ms: number | null }>(RECORD_SQL, [JSON.stringify(items)]);
    return new Map(r.rows.map((x) => [x.id, x.total_latency_ms]));
  };

  // Up to recordConcurrencyMax writers: an answer is written at once when a writer is free,
  // and whatever arrives while they are busy goes into the next statement (up to
  // recordBatchMax), so the batch size follows the answer rate without a timer. Batches
  // touch disjoint outbox rows; a rare deadlock between two on radius_sessions (NAK 503s
  // for the same sessions in both) aborts one, whose rows the sweep sends again.
  const drainRecords = async (): Promise<void> => {
    if (recording >= cfg.recordConcurrencyMax) return;
    recording++;
    try {
      while (recordQueue.length > 0) {
        const batch = recordQueue.slice(0, cfg.recordBatchMax);
        recordQueue = recordQueue.slice(batch.length);
        const t0 = performance.now();
        try {
          const latencies = await writeRecords(batch);
          const t1 = performance.now();
          stats.records++;
          stats.recordRowsMax = Math.max(stats.recordRowsMax, batch.length);
          sample(stats.samples.recordStatementMs, t1 - t0);
          for (const p of batch) {
            sample(stats.samples.recordMs, t1 - p.at);
            p.done(latencies.get(p.row.id) ?? null);
          }
        } catch (err) {
          for (const p of batch) p.fail(err as Error);
        }
      }
    } finally {
      recording--;
    }
  };

  const finish = async (row: ClaimedRow, status: EnforcementResultEvent["status"], fields: Answer): Promise<void> => {
    const escalated = fields.escalated ?? false;
    const totalLatencyMs = await new Promise<number | null>((done, fail) => {
      recordQueue.push({ row, status, fields, at: performance.now(), done, fail });
      void drainRecords();
    });
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
    deps.afterFinish?.(row.subscriber_id, row.kind);
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

    // Session, router and plan came with the claim (the click-to-ACK path).
    const x = row;
    const session = x.session_id ? { id: x.session_id, acct_session_id: x.s_acct_session_id, username: x.session_username, framed_ip: x.framed_ip } : null;
    if (!session && !(row.acct_session_id && row.router_id)) {
      if (needsSession.has(row.kind)) return finish(row, "failed", { message: "no active session" });
      // Offline: the new state (status, plan) is what auth answers at the next login.
      return finish(row, "acked", { message: "Subscriber offline; applies at next login" });
    }
    if (x.r_id === null || x.r_name === null || x.r_ip === null || x.coa_port === null || x.radius_secret === null) {
      return finish(row, "failed", { message: "router not found" });
    }
    const router: RouterAccess & { coa_port: number; radius_secret: string } = {
      id: x.r_id,
      name: x.r_name,
      ip: x.r_ip,
      apiKind: x.api_kind ?? "none",
      apiPort: x.api_port,
      apiUsername: x.api_username,
      apiPassword: x.api_password,
      restUrl: x.rest_url,
      apiTls: x.api_tls ?? false,
      tlsFingerprint: x.tls_fingerprint,
      tlsInsecure: x.tls_insecure ?? false,
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
    const tSend = performance.now();
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
    sample(stats.samples.sendMs, performance.now() - tSend);
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

  // Up to claimConcurrencyMax claim statements at once (SKIP LOCKED keeps their rows
  // disjoint), so a NOTIFY arriving while a claim runs does not wait for it. Each claim
  // takes at most its share of inFlightMax and reserves that room until its rows are counted.
  const claimRowsMax = Math.max(1, Math.floor(cfg.inFlightMax / Math.max(1, cfg.claimConcurrencyMax)));
  const pump = async (): Promise<void> => {
    if (stopped) return;
    if (claiming >= cfg.claimConcurrencyMax) {
      again = true;
      return;
    }
    const room = Math.min(claimRowsMax, cfg.inFlightMax - inFlight - reserved);
    if (room <= 0) return; // a row finishing pumps again
    claiming++;
    reserved += room;
    again = false;
    let got = 0;
    try {
      const t0 = performance.now();
      const claimed = await pool.query<ClaimedRow>(CLAIM_SQL, [room, cfg.lockMs]);
      sample(stats.samples.claimMs, performance.now() - t0);
      got = claimed.rows.length;
      counters.claimed += got;
      if (got > 0) {
        stats.claims++;
        stats.claimRowsMax = Math.max(stats.claimRowsMax, got);
        const now = Date.now();
        for (const row of claimed.rows) sample(stats.samples.queuedMs, now - row.requested_ms);
      }
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
    } catch (err) {
      counters.errors++;
      log.warn("enforcement claim failed", { error: (err as Error).message });
    } finally {
      claiming--;
      reserved -= room;
    }
    // A full claim: there may be more waiting; a NOTIFY during the claim: look again.
    if (!stopped && (again || got === room)) void pump();
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
    stats,
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
