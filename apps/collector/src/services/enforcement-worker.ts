// Carries out the enforcement outbox (docs/architecture.md): LISTEN `enforcement` for
// speed, a sweep for what LISTEN missed (collector down, connection dropped) and for rows
// left `sending` by a crashed worker (their lock expired). Rows are claimed with
// FOR UPDATE SKIP LOCKED, so several workers never send the same action twice at once.
import type pg from "pg";
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
}

export const defaultEnforcementConfig: EnforcementWorkerConfig = {
  inFlightMax: 32,
  sweepIntervalMs: 2000,
  lockMs: 30_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
};

export function backoffMs(attempt: number, cfg: Pick<EnforcementWorkerConfig, "backoffBaseMs" | "backoffMaxMs">): number {
  return Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
}

interface ClaimedRow {
  id: string;
  kind: "disconnect";
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
}

export interface EnforcementWorker {
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
  /** Claims and processes due rows now (what a NOTIFY or the sweep does). */
  poke(): void;
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
RETURNING o.id::text AS id, o.kind, o.subscriber_id, o.router_id, o.acct_session_id, o.attempts, o.max_attempts`;

export function createEnforcementWorker(deps: {
  pool: pg.Pool;
  databaseUrl: string;
  send: DisconnectSender;
  emit: (event: EnforcementResultEvent) => void;
  log: Logger;
  config?: Partial<EnforcementWorkerConfig>;
}): EnforcementWorker {
  const cfg = { ...defaultEnforcementConfig, ...deps.config };
  const { pool, log } = deps;
  const counters: EnforcementCounters = { claimed: 0, acked: 0, nak: 0, timeouts: 0, retries: 0, failed: 0, errors: 0 };
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
    fields: { routerLatencyMs?: number | null; errorCause?: number | null; message: string; result?: object; stopSessionId?: string | null },
  ): Promise<void> => {
    const client = await pool.connect();
    let totalLatencyMs: number | null;
    try {
      await client.query("BEGIN");
      const r = await client.query<{ total_latency_ms: number }>(
        `UPDATE enforcement_outbox
            SET status = $2, completed_at = now(), locked_until = NULL,
                router_latency_ms = $3, error_cause = $4, last_error = $5, result = $6::jsonb,
                total_latency_ms = GREATEST(0, round(extract(epoch FROM (now() - requested_at)) * 1000))::int
          WHERE id = $1::bigint
          RETURNING total_latency_ms`,
        [
          row.id,
          status,
          fields.routerLatencyMs ?? null,
          fields.errorCause ?? null,
          status === "acked" ? null : fields.message,
          JSON.stringify({ status, message: fields.message, ...fields.result }),
        ],
      );
      totalLatencyMs = r.rows[0]?.total_latency_ms ?? null;
      if (fields.stopSessionId) {
        // NAK 503: the router has no such session, so ours is stale; close it.
        await client.query(
          `UPDATE radius_sessions SET status = 'stopped', stopped_at = now(), terminate_cause = COALESCE(terminate_cause, 'Session-Not-Found')
            WHERE id = $1::bigint AND status = 'active'`,
          [fields.stopSessionId],
        );
      }
      await client.query(
        `INSERT INTO audit_log (actor, action, entity_type, entity_id, details) VALUES ('collector', $1, 'subscriber', $2, $3::jsonb)`,
        [
          `enforcement.${status}`,
          String(row.subscriber_id),
          JSON.stringify({ actionId: row.id, kind: row.kind, attempts: row.attempts, routerLatencyMs: fields.routerLatencyMs ?? null, totalLatencyMs, errorCause: fields.errorCause ?? null, message: fields.message }),
        ],
      );
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    counters[status === "acked" ? "acked" : status === "nak" ? "nak" : status === "timeout" ? "timeouts" : "failed"]++;
    deps.emit({
      actionId: row.id,
      subscriberId: row.subscriber_id,
      kind: row.kind,
      status,
      routerLatencyMs: fields.routerLatencyMs ?? null,
      totalLatencyMs,
      errorCause: fields.errorCause ?? null,
      message: fields.message,
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
    if (row.kind !== "disconnect") return finish(row, "failed", { message: `unsupported kind ${String(row.kind)}` });
    if (row.attempts > row.max_attempts) return finish(row, "timeout", { message: "attempts exhausted" });

    const s = await pool.query<{ id: string; acct_session_id: string; username: string; framed_ip: string | null; router_id: number }>(
      `SELECT id::text, acct_session_id, username, host(framed_ip) AS framed_ip, router_id
         FROM radius_sessions
        WHERE subscriber_id = $1
          AND ($2::text IS NULL OR acct_session_id = $2)
          AND ($3::int IS NULL OR router_id = $3)
          AND ($2::text IS NOT NULL OR status = 'active')
        ORDER BY (status = 'active') DESC, started_at DESC
        LIMIT 1`,
      [row.subscriber_id, row.acct_session_id, row.acct_session_id ? row.router_id : null],
    );
    const session = s.rows[0];
    const routerId = session?.router_id ?? (row.acct_session_id ? row.router_id : null);
    if (!session && !routerId) return finish(row, "failed", { message: "no active session" });

    const r = await pool.query<{ id: number; name: string; ip: string; coa_port: number; radius_secret: string }>(
      "SELECT id, name, host(ip_address) AS ip, coa_port, radius_secret FROM routers WHERE id = $1",
      [routerId],
    );
    const router = r.rows[0];
    if (!router) return finish(row, "failed", { message: "router not found" });
    let userName = session?.username;
    if (!userName) {
      const u = await pool.query<{ pppoe_username: string }>("SELECT pppoe_username FROM subscribers WHERE id = $1", [row.subscriber_id]);
      userName = u.rows[0]?.pppoe_username ?? "";
    }

    const answer = await deps.send({
      host: router.ip,
      port: router.coa_port,
      secret: router.radius_secret,
      userName,
      acctSessionId: session?.acct_session_id ?? row.acct_session_id,
      framedIp: session?.framed_ip ?? null,
      nasIpAddress: router.ip.includes(":") ? null : router.ip,
    });
    const result = { routerId: router.id, routerName: router.name, acctSessionId: session?.acct_session_id ?? row.acct_session_id, attempts: row.attempts };
    if (answer.outcome === "ack") {
      return finish(row, "acked", { routerLatencyMs: answer.latencyMs, message: `Disconnected by ${router.name}`, result });
    }
    if (answer.outcome === "nak") {
      const cause = answer.errorCause ?? null;
      // 503 Session-Context-Not-Found: the session is already gone, which is what was asked.
      const gone = cause === 503;
      return finish(row, "nak", {
        routerLatencyMs: answer.latencyMs,
        errorCause: cause,
        message: gone ? `Session already gone on ${router.name}` : `${router.name} refused (Error-Cause ${cause ?? "none"})`,
        result,
        stopSessionId: gone ? (session?.id ?? null) : null,
      });
    }
    if (row.attempts >= row.max_attempts) {
      return finish(row, "timeout", { message: `${router.name} did not answer after ${row.attempts} attempts`, result });
    }
    return scheduleRetry(row, `${router.name} did not answer`);
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
    },
    poke() {
      void pump();
    },
    get inFlight() {
      return inFlight;
    },
    counters,
  };
}
