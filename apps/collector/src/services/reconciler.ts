// Reconciliation (docs/enforcement.md): billing says who may be online, the router says
// who is. Routers ACK a Disconnect and keep the user, lose an Accounting-Stop, or keep a
// stale address-list entry; this loop compares the two per router and repairs the drift.
// With a RouterOS adapter the router's own /ppp/active and address list are the truth;
// without one only the RADIUS view (our session table) is available.
import type pg from "pg";
import type { RouterOsAdapter } from "@isp/network/routeros/adapter";
import type { Logger } from "../log";
import type { RouterAccess } from "./enforcement-worker";
import type { EnforcementResultEvent } from "./live-hub";
import type { SecretRepair, SecretSync } from "./secret-sync";

export interface ReconcilerConfig {
  /** How often each router is compared. Default 60 s (RECONCILE_INTERVAL_S). */
  intervalMs: number;
  /** A session younger than this is never called a zombie (its Start may be in flight). */
  zombieGraceMs: number;
  suspendedList: string;
  /** Suspended subscribers on plans without their own policy: "walled_garden" lets them stay online. */
  suspendedPolicyDefault: "reject" | "walled_garden";
  /** Most repairs of one kind per router per run; the rest wait for the next run. */
  repairsPerRunMax: number;
}

export const defaultReconcilerConfig: ReconcilerConfig = {
  intervalMs: 60_000,
  zombieGraceMs: 30_000,
  suspendedList: "suspended",
  suspendedPolicyDefault: "reject",
  repairsPerRunMax: 500,
};

export type RepairKind = "disconnect" | "disconnect_queued" | "zombie_closed" | "address_list_removed" | "queue_rate" | SecretRepair;

const noRepairs = (): Record<RepairKind, number> => ({
  disconnect: 0,
  disconnect_queued: 0,
  zombie_closed: 0,
  address_list_removed: 0,
  queue_rate: 0,
  secret_added: 0,
  secret_updated: 0,
  secret_removed: 0,
});

export interface RouterHealth {
  routerId: number;
  name: string;
  /** Last RADIUS packet from the router (auth or accounting). */
  radiusLastSeenAt: string | null;
  /** RouterOS API/REST login on the last run: ok, failed, or none configured. */
  api: "ok" | "failed" | "none";
  apiError: string | null;
  /** Last time the router answered anything (RADIUS or API). */
  lastSeenAt: string | null;
  reconciledAt: string | null;
  repairs: number;
}

export interface ReconcileResult {
  routerId: number;
  repairs: Record<RepairKind, number>;
  apiOk: boolean | null;
}

export interface Reconciler {
  start(): void;
  stop(): Promise<void>;
  /** One pass over every active router (or one router) now. */
  runOnce(routerId?: number): Promise<ReconcileResult[]>;
  health(routerId: number): RouterHealth | undefined;
  readonly counters: Record<RepairKind, number> & { runs: number; errors: number };
}

type RouterRow = RouterAccess & { active: boolean; authMode: "radius" | "local" };

/** The adapter key fields only, so the reconciler and secret sync share the worker's adapter. */
const accessOf = (r: RouterRow): RouterAccess => ({
  id: r.id,
  name: r.name,
  ip: r.ip,
  apiKind: r.apiKind,
  apiPort: r.apiPort,
  apiUsername: r.apiUsername,
  apiPassword: r.apiPassword,
  restUrl: r.restUrl,
  apiTls: r.apiTls,
  tlsFingerprint: r.tlsFingerprint,
  tlsInsecure: r.tlsInsecure,
});

interface Rate {
  downloadKbps: number;
  uploadKbps: number;
}

export function createReconciler(deps: {
  pool: pg.Pool;
  adapterFor: (router: RouterAccess) => RouterOsAdapter | null;
  routerLastSeen: (routerId: number) => Date | undefined;
  emit?: (event: EnforcementResultEvent) => void;
  /** /ppp/secret comparison for routers with auth_mode local (secret-sync.ts); absent: not compared. */
  secrets?: SecretSync | null;
  /** Month-to-date bytes (the FUP usage cache); absent: FUP never applies to the queue comparison. */
  monthBytes?: (subscriberId: number) => bigint;
  log: Logger;
  config?: Partial<ReconcilerConfig>;
}): Reconciler {
  const cfg = { ...defaultReconcilerConfig, ...deps.config };
  const { pool, log } = deps;
  const counters = { ...noRepairs(), runs: 0, errors: 0 };
  const health = new Map<number, RouterHealth>();
  const running = new Map<number, Promise<ReconcileResult>>();
  // Sessions missing from the router on the last run: closed only when missing twice, so
  // an Accounting-Stop still in flight (a session that just ended) is never beaten to it.
  const suspects = new Map<number, Set<string>>();
  let timer: NodeJS.Timeout | null = null;

  const audit = (client: pg.Pool | pg.PoolClient, action: RepairKind, subscriberId: number | null, details: object) =>
    client.query(
      `INSERT INTO audit_log (actor, action, entity_type, entity_id, details) VALUES ('reconciler', $1, $2, $3, $4::jsonb)`,
      [`reconcile.${action}`, subscriberId === null ? "session" : "subscriber", String(subscriberId ?? ""), JSON.stringify(details)],
    );

  /** A repair the reconciler did on the router itself: an outbox row already done, so it shows with the subscriber's actions. */
  const recordDone = async (
    router: RouterRow,
    subscriberId: number,
    kind: "kick" | "restore" | "change_plan" | "throttle",
    repair: RepairKind,
    outcome: { ok: boolean; latencyMs: number; message: string; errorCode?: string },
    params: object | null = null,
  ): Promise<void> => {
    const client = await pool.connect();
    let actionId: string;
    try {
      await client.query("BEGIN");
      const r = await client.query<{ id: string }>(
        `INSERT INTO enforcement_outbox (kind, status, subscriber_id, router_id, reason, attempts, completed_at, router_latency_ms, total_latency_ms,
                                         path, error_code, escalated, last_error, result, params)
         VALUES ($1::enforcement_kind, $2::enforcement_status, $3, $4, $5, 1, now(), $6, $6, $7::enforcement_path, $8, $9, $10, $11::jsonb, $12::jsonb)
         RETURNING id::text`,
        [
          kind,
          outcome.ok ? "acked" : "failed",
          subscriberId,
          router.id,
          `reconciler: ${repair}`,
          outcome.latencyMs,
          router.apiKind === "rest" ? "rest" : "api",
          outcome.errorCode ?? null,
          !outcome.ok,
          outcome.ok ? null : outcome.message,
          JSON.stringify({ actor: "reconciler", repair, message: outcome.message }),
          params === null ? null : JSON.stringify(params),
        ],
      );
      actionId = r.rows[0]?.id ?? "";
      await audit(client, repair, subscriberId, { actionId, routerId: router.id, ok: outcome.ok, message: outcome.message });
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    deps.emit?.({
      actionId,
      subscriberId,
      kind,
      status: outcome.ok ? "acked" : "failed",
      routerLatencyMs: outcome.latencyMs,
      totalLatencyMs: outcome.latencyMs,
      errorCause: null,
      message: outcome.message,
      path: router.apiKind === "rest" ? "rest" : "api",
      errorCode: outcome.errorCode ?? null,
      escalated: !outcome.ok,
    });
  };

  const mustBeOffline = `(sub.status = 'terminated' OR (sub.status = 'suspended' AND COALESCE(p.suspended_policy::text, $2) = 'reject'))`;

  /**
   * Billing's rate for each online, active subscriber, against the router's simple queue
   * for them: the static queue named after the user (what setQueueRate manages), else the
   * dynamic `<pppoe-user>` queue RouterOS made from the RADIUS rate. Subscribers without either
   * are not compared (that router does not shape them with simple queues). The rate billing
   * says is, in order: the latest throttle/change_plan acked during this session (a
   * support agent's throttle holds until the next login), the FUP rate when the month's
   * usage is past the plan's quota, else the plan's rate. Subscribers with an action still
   * pending or being sent are left to the worker.
   */
  const reconcileQueues = async (
    router: RouterRow,
    adapter: RouterOsAdapter,
    active: Awaited<ReturnType<RouterOsAdapter["listActiveSessions"]>>,
    repairs: Record<RepairKind, number>,
    count: (k: RepairKind) => void,
  ): Promise<void> => {
    if (active.length === 0) return;
    const queues = await adapter.listQueues();
    const statics = new Map(queues.filter((q) => !q.dynamic).map((q) => [q.name, q]));
    const dynamics = new Map(queues.filter((q) => q.dynamic).map((q) => [q.name, q]));
    const dynamicByTarget = new Map(queues.filter((q) => q.dynamic).map((q) => [q.target.replace(/\/32$/, ""), q]));
    // The static queue named after the user wins (setQueueRate's); else RouterOS's dynamic
    // <pppoe-user> queue, found by name or by the session's address.
    const queueOf = new Map<string, (typeof queues)[number]>();
    for (const s of active) {
      const q = statics.get(s.name) ?? dynamics.get(`<pppoe-${s.name}>`) ?? (s.address ? dynamicByTarget.get(s.address) : undefined);
      if (q) queueOf.set(s.name, q);
    }
    const names = [...queueOf.keys()];
    if (names.length === 0) return;
    const q = await pool.query<{
      id: number;
      username: string;
      download_kbps: number;
      upload_kbps: number;
      fup_quota_bytes: string | null;
      fup_download_kbps: number | null;
      fup_upload_kbps: number | null;
      override_kind: string | null;
      override_params: { downloadKbps?: number; uploadKbps?: number } | null;
    }>(
      `SELECT sub.id, sub.pppoe_username AS username, p.download_kbps, p.upload_kbps,
              p.fup_quota_bytes::text AS fup_quota_bytes, p.fup_download_kbps, p.fup_upload_kbps,
              o.kind AS override_kind, o.params AS override_params
         FROM subscribers sub JOIN plans p ON p.id = sub.plan_id
         LEFT JOIN LATERAL (
           SELECT s.started_at FROM radius_sessions s
            WHERE s.subscriber_id = sub.id AND s.router_id = $2 AND s.status = 'active'
            ORDER BY s.started_at DESC LIMIT 1) s ON true
         LEFT JOIN LATERAL (
           SELECT o.kind::text AS kind, o.params FROM enforcement_outbox o
            WHERE o.subscriber_id = sub.id AND o.kind IN ('throttle', 'change_plan') AND o.status = 'acked'
              AND s.started_at IS NOT NULL AND o.completed_at >= s.started_at
              AND (o.reason IS NULL OR o.reason NOT LIKE 'reconciler:%')
            ORDER BY o.id DESC LIMIT 1) o ON true
        WHERE sub.pppoe_username = ANY($1::text[]) AND sub.status = 'active'
          AND NOT EXISTS (SELECT 1 FROM enforcement_outbox x WHERE x.subscriber_id = sub.id AND x.status IN ('pending', 'sending'))
        ORDER BY sub.id`,
      [names, router.id],
    );
    for (const s of q.rows) {
      if (repairs.queue_rate >= cfg.repairsPerRunMax) break;
      const queue = queueOf.get(s.username);
      if (!queue?.rate) continue;
      let want: Rate = { downloadKbps: s.download_kbps, uploadKbps: s.upload_kbps };
      let source = "plan";
      const o = s.override_params;
      if (s.override_kind && o && typeof o.downloadKbps === "number" && typeof o.uploadKbps === "number") {
        want = { downloadKbps: o.downloadKbps, uploadKbps: o.uploadKbps };
        source = s.override_kind;
      } else if (s.fup_quota_bytes !== null && deps.monthBytes && deps.monthBytes(s.id) >= BigInt(s.fup_quota_bytes)) {
        want = { downloadKbps: s.fup_download_kbps ?? s.download_kbps, uploadKbps: s.fup_upload_kbps ?? s.upload_kbps };
        source = "fup";
      }
      if (queue.rate.downloadKbps === want.downloadKbps && queue.rate.uploadKbps === want.uploadKbps) continue;
      const kind = source === "plan" || source === "change_plan" ? "change_plan" : "throttle";
      const was = `${queue.rate.downloadKbps}/${queue.rate.uploadKbps}`;
      const t0 = performance.now();
      try {
        await adapter.setQueueRate(s.username, want, { comment: `sub ${s.id}` });
        await recordDone(
          router,
          s.id,
          kind,
          "queue_rate",
          {
            ok: true,
            latencyMs: Math.round(performance.now() - t0),
            message: `Reconciler: ${s.username}'s queue on ${router.name} was ${was} kbps; set to ${want.downloadKbps}/${want.uploadKbps} kbps (${source})`,
          },
          { ...want, source, was: queue.rate, queue: queue.name },
        );
        count("queue_rate");
      } catch (err) {
        const e = err as Error & { code?: string };
        await recordDone(router, s.id, kind, "queue_rate", { ok: false, latencyMs: Math.round(performance.now() - t0), message: e.message, errorCode: e.code ?? "trap" }, { ...want, source });
      }
    }
  };

  const reconcileRouter = async (router: RouterRow): Promise<ReconcileResult> => {
    const repairs = noRepairs();
    const count = (k: RepairKind) => {
      repairs[k]++;
      counters[k]++;
    };
    const adapter = router.apiKind === "none" ? null : deps.adapterFor(accessOf(router));
    let apiOk: boolean | null = null;
    let apiError: string | null = null;

    if (adapter) {
      const listedAt = Date.now();
      let active: Awaited<ReturnType<RouterOsAdapter["listActiveSessions"]>> | null = null;
      try {
        active = await adapter.listActiveSessions();
        apiOk = true;
      } catch (err) {
        apiOk = false;
        apiError = (err as Error).message;
      }
      if (active) {
        // 1. Suspended/terminated subscribers the router still has online.
        const names = active.map((s) => s.name);
        const offline = await pool.query<{ id: number; username: string }>(
          `SELECT sub.id, sub.pppoe_username AS username FROM subscribers sub JOIN plans p ON p.id = sub.plan_id
            WHERE sub.pppoe_username = ANY($1::text[]) AND ${mustBeOffline} LIMIT $3`,
          [names, cfg.suspendedPolicyDefault, cfg.repairsPerRunMax],
        );
        for (const s of offline.rows) {
          const t0 = performance.now();
          try {
            const r = await adapter.removeActiveSession({ name: s.username });
            await recordDone(router, s.id, "kick", "disconnect", {
              ok: true,
              latencyMs: Math.round(performance.now() - t0),
              message: `Reconciler: ${s.username} was online while not allowed; removed ${r.removed} session(s) on ${router.name}`,
            });
            count("disconnect");
          } catch (err) {
            const e = err as Error & { code?: string };
            await recordDone(router, s.id, "kick", "disconnect", { ok: false, latencyMs: Math.round(performance.now() - t0), message: e.message, errorCode: e.code ?? "trap" });
          }
        }

        // 2. Zombies: active in our table, gone from the router.
        const present = new Set(active.map((s) => `${s.name}\u0000${(s.sessionId ?? "").replace(/^0x/i, "").toLowerCase()}`));
        const presentNames = new Set(names);
        const ours = await pool.query<{ id: string; subscriber_id: number | null; username: string; acct_session_id: string }>(
          `SELECT id::text, subscriber_id, username, acct_session_id FROM radius_sessions
            WHERE router_id = $1 AND status = 'active' AND started_at < $2`,
          [router.id, new Date(listedAt - cfg.zombieGraceMs)],
        );
        let zombies = 0;
        const before = suspects.get(router.id) ?? new Set<string>();
        const now = new Set<string>();
        suspects.set(router.id, now);
        for (const s of ours.rows) {
          if (zombies >= cfg.repairsPerRunMax) break;
          const key = `${s.username}\u0000${s.acct_session_id.replace(/^0x/i, "").toLowerCase()}`;
          // A router that reports no session-id is matched on the name alone.
          if (present.has(key) || (presentNames.has(s.username) && active.some((a) => a.name === s.username && !a.sessionId))) continue;
          if (!before.has(s.id)) {
            if (now.size < cfg.repairsPerRunMax * 4) now.add(s.id);
            continue;
          }
          const r = await pool.query(
            `WITH u AS (
               UPDATE radius_sessions SET status = 'stopped', stopped_at = now(), terminate_cause = COALESCE(terminate_cause, 'Reconciled-Zombie')
                WHERE id = $1::bigint AND status = 'active' RETURNING id)
             INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
             SELECT 'reconciler', 'reconcile.zombie_closed', 'subscriber', $2, $3::jsonb FROM u`,
            [s.id, String(s.subscriber_id ?? ""), JSON.stringify({ sessionId: s.id, routerId: router.id, username: s.username, acctSessionId: s.acct_session_id })],
          );
          if (r.rowCount) {
            zombies++;
            count("zombie_closed");
          }
        }

        // 3. Active subscribers sitting in the suspended address list.
        try {
          const listed = await adapter.listAddressList(cfg.suspendedList);
          if (listed.length > 0) {
            const addrs = listed.map((e) => e.address);
            const subIds = listed.map((e) => Number(/^sub (\d+)$/.exec(e.comment ?? "")?.[1] ?? 0));
            const wrong = await pool.query<{ id: number; address: string }>(
              `SELECT DISTINCT ON (x.address) sub.id, x.address
                 FROM unnest($1::text[], $2::int[]) AS x(address, sub_id)
                 JOIN subscribers sub ON sub.status = 'active' AND (
                      sub.id = x.sub_id
                   OR EXISTS (SELECT 1 FROM radius_sessions s WHERE s.router_id = $3 AND s.status = 'active' AND s.subscriber_id = sub.id AND host(s.framed_ip) = x.address))
                LIMIT $4`,
              [addrs, subIds, router.id, cfg.repairsPerRunMax],
            );
            for (const w of wrong.rows) {
              const t0 = performance.now();
              try {
                await adapter.removeFromAddressList(cfg.suspendedList, w.address);
                await recordDone(router, w.id, "restore", "address_list_removed", {
                  ok: true,
                  latencyMs: Math.round(performance.now() - t0),
                  message: `Reconciler: active subscriber's ${w.address} taken out of ${cfg.suspendedList} on ${router.name}`,
                });
                count("address_list_removed");
              } catch (err) {
                const e = err as Error & { code?: string };
                await recordDone(router, w.id, "restore", "address_list_removed", { ok: false, latencyMs: Math.round(performance.now() - t0), message: e.message, errorCode: e.code ?? "trap" });
              }
            }
          }
        } catch (err) {
          apiOk = false;
          apiError = (err as Error).message;
        }

        // 4. Queue rates: each online active subscriber's simple queue against billing's rate.
        if (apiOk) {
          try {
            await reconcileQueues(router, adapter, active, repairs, count);
          } catch (err) {
            counters.errors++;
            log.warn(`reconcile ${router.name}: queue comparison failed`, { error: (err as Error).message });
          }
        }
      }

      // 5. /ppp/secret for routers that authenticate locally.
      if (apiOk && router.authMode === "local" && deps.secrets) {
        try {
          const r = await deps.secrets.reconcileRouter(accessOf(router), adapter);
          for (const k of ["secret_added", "secret_updated", "secret_removed"] as const) {
            for (let i = 0; i < r[k]; i++) count(k);
          }
        } catch (err) {
          counters.errors++;
          log.warn(`reconcile ${router.name}: /ppp/secret comparison failed`, { error: (err as Error).message });
        }
      }
    }

    if (!adapter || apiOk === false) {
      // RADIUS view: our table says online although billing says no. Queue a Disconnect
      // through the outbox (one open row per subscriber at a time).
      const q = await pool.query<{ subscriber_id: number; id: string }>(
        `WITH todo AS (
           SELECT DISTINCT s.subscriber_id FROM radius_sessions s
             JOIN subscribers sub ON sub.id = s.subscriber_id JOIN plans p ON p.id = sub.plan_id
            WHERE s.router_id = $1 AND s.status = 'active' AND ${mustBeOffline}
              AND NOT EXISTS (SELECT 1 FROM enforcement_outbox o WHERE o.subscriber_id = s.subscriber_id AND o.status IN ('pending', 'sending'))
            LIMIT $3),
         ins AS (
           INSERT INTO enforcement_outbox (kind, subscriber_id, router_id, reason)
           SELECT 'kick', subscriber_id, $1, 'reconciler: online while not allowed' FROM todo
           RETURNING id::text, subscriber_id),
         aud AS (
           INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
           SELECT 'reconciler', 'reconcile.disconnect_queued', 'subscriber', subscriber_id::text, jsonb_build_object('actionId', id, 'routerId', $1::int) FROM ins)
         SELECT subscriber_id, id FROM ins`,
        [router.id, cfg.suspendedPolicyDefault, cfg.repairsPerRunMax],
      );
      for (const r of q.rows) {
        await pool.query("SELECT pg_notify('enforcement', $1)", [r.id]);
        count("disconnect_queued");
      }
    }

    const radiusSeen = deps.routerLastSeen(router.id) ?? null;
    const prev = health.get(router.id);
    const apiSeen = apiOk ? new Date() : null;
    const lastSeen = [radiusSeen, apiSeen, prev?.lastSeenAt ? new Date(prev.lastSeenAt) : null].filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0] ?? null;
    const total = Object.values(repairs).reduce((a, b) => a + b, 0);
    health.set(router.id, {
      routerId: router.id,
      name: router.name,
      radiusLastSeenAt: radiusSeen?.toISOString() ?? null,
      api: apiOk === null ? "none" : apiOk ? "ok" : "failed",
      apiError,
      lastSeenAt: lastSeen?.toISOString() ?? null,
      reconciledAt: new Date().toISOString(),
      repairs: (prev?.repairs ?? 0) + total,
    });
    if (total > 0) log.info(`reconciled ${router.name}`, { ...repairs });
    if (apiOk === false) log.warn(`reconcile: ${router.name} API failed`, { error: apiError });
    return { routerId: router.id, repairs, apiOk };
  };

  const runOnce = async (routerId?: number): Promise<ReconcileResult[]> => {
    counters.runs++;
    const r = await pool.query<RouterRow>(
      `SELECT id, name, host(ip_address) AS ip, active, auth_mode::text AS "authMode", api_kind::text AS "apiKind", api_port AS "apiPort",
              api_username AS "apiUsername", api_password AS "apiPassword", rest_url AS "restUrl",
              api_tls AS "apiTls", tls_fingerprint AS "tlsFingerprint", tls_insecure AS "tlsInsecure"
         FROM routers WHERE active AND ($1::int IS NULL OR id = $1) ORDER BY id`,
      [routerId ?? null],
    );
    // Routers run side by side; one router's run never overlaps itself.
    return Promise.all(
      r.rows.map((router) => {
        const busy = running.get(router.id);
        if (busy) return busy;
        const p = reconcileRouter(router)
          .catch((err: Error) => {
            counters.errors++;
            log.warn(`reconcile ${router.name} failed`, { error: err.message });
            return { routerId: router.id, repairs: noRepairs(), apiOk: null };
          })
          .finally(() => running.delete(router.id));
        running.set(router.id, p);
        return p;
      }),
    );
  };

  return {
    start() {
      timer = setInterval(() => void runOnce().catch(() => counters.errors++), cfg.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await Promise.allSettled([...running.values()]);
    },
    runOnce,
    health: (id) => health.get(id),
    counters,
  };
}
