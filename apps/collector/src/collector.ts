// Composition root of the collector daemon. start() brings services up in dependency
// order; stop() takes them down in reverse, each step bounded by what is left of one
// deadline, so a stuck step cannot hang the process.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { runRollupJob } from "@isp/db/timeseries";
import { createLogger, type Logger } from "./log";
import { createRouterCache, createSubscriberCache, type RouterCache, type SubscriberCache } from "./services/caches";
import { createEnforcementWorker, type EnforcementWorker, type EnforcementWorkerConfig } from "./services/enforcement-worker";
import { createLiveHub, type LiveHub } from "./services/live-hub";
import { createReconciler, type Reconciler, type ReconcilerConfig } from "./services/reconciler";
import { createSecretSync, type SecretSync } from "./services/secret-sync";
import { createLiveQueries } from "./services/live-queries";
import { createPgListener, type PgListener } from "./services/pg-listener";
import { createSessionStore, type SessionStore } from "./services/session-store";
import { createOpenSessionIndex, type OpenSessionIndex } from "./services/open-sessions";
import type { TsWriterConfig } from "./services/ts-writer";
import { createAcctSpool, type AcctSpool } from "./services/acct-spool";
import { createAuthService, type AuthPolicyConfig, type AuthService } from "./services/auth-service";
import { createAuthLogWriter, type AuthLogWriter, type AuthLogWriterConfig } from "./services/auth-log-writer";
import { createUsageCache, type UsageCache } from "./services/caches";
import { createFupEnforcer, type FupEnforcer, type FupEnforcerConfig } from "./services/fup-enforcer";
import { DEV_SECRETS_KEY, encryptPlainPasswords, toKeyring, type SecretsKeys } from "@isp/db/secrets";
import { createSecretsRotation, type SecretsRotation } from "./services/secrets-rotation";
import { releaseStaleAllocations } from "@isp/db/ip-pools";
import { releaseStalePrefixes } from "@isp/db/ipv6-pools";
import { acctSpoolCodec, createAccountingService, onSessionsEnded, type AccountingService, type SpooledRecord } from "./services/accounting-service";
import { createAcctEndpoint, createAuthEndpoint, createDisconnectSender, planRateLimit, type DisconnectSenderHandle, type RadiusEndpoint } from "./services/radius-glue";
import { startSimulation, type Simulation } from "./dev/simulate";
import { createNatService, type NatCounters, type NatService, type NatServiceConfig } from "./services/nat-service";
import { createBillingScheduler, type BillingScheduler, type BillingSchedulerConfig } from "./billing/scheduler";

export interface CollectorConfig {
  databaseUrl: string;
  radiusHost?: string;
  /** 0 = ephemeral (tests); the bound ports are in `ports` after start(). */
  authPort: number;
  acctPort: number;
  liveHost?: string;
  livePort: number;
  liveCorsOrigin: string | string[];
  authSecret: string;
  acctInterimIntervalS?: number;
  /** Keys of the PPPoE passwords at rest: SECRETS_KEY + SECRETS_KEY_PREVIOUS (a keyring), or one key. Default: the public development key. */
  secretsKey?: SecretsKeys;
  /** Re-encryption sweep onto the current key (it also runs at start). Default 60000. */
  secretsRotateMs?: number;
  /** Suspended/expired subscribers on plans without their own policy. Default "reject". */
  suspendedPolicyDefault?: AuthPolicyConfig["suspendedPolicyDefault"];
  walledGarden?: Partial<AuthPolicyConfig["walledGarden"]>;
  authLog?: Partial<AuthLogWriterConfig>;
  /** A pool lease no active session uses is released after this long. Default 600. */
  leaseGraceS?: number;
  sessionTimeoutS?: number | null;
  /** PostgreSQL connections for queries (LISTEN uses its own). */
  poolMax?: number;
  routerRefreshMs?: number;
  /** Full reload of the subscriber cache. */
  subscriberRefreshMs?: number;
  /** Poll for subscribers whose updated_at moved. */
  subscriberChangesPollMs?: number;
  /** An active session without accounting for this long becomes `stale`. Default 3 interim intervals. */
  staleAfterS?: number;
  staleSweepMs?: number;
  /** Local state (the accounting spool lives in `<dataDir>/acct/`); one collector per directory. Default: a new temporary directory (not durable across restarts; main.ts always sets it). */
  dataDir?: string;
  /** Bound of the in-memory open-session index for simultaneous use (docs/radius-auth.md). Default 1,000,000. */
  openSessionsMax?: number;
  /** Bound of the accounting spool file. Default 256 MiB. */
  spoolMaxBytes?: number;
  /** A database write slower than this spools the record instead. Default 200. */
  slowWriteMs?: number;
  rollupIntervalMs?: number;
  liveTickMs?: number;
  /** Whole stop() sequence. */
  stopDeadlineMs?: number;
  writer?: Partial<TsWriterConfig>;
  enforcement?: Partial<EnforcementWorkerConfig>;
  /** Billing-vs-router reconciliation (docs/enforcement.md); null = off. */
  reconcile?: Partial<ReconcilerConfig> | null;
  /** Fair-usage throttle on crossing and plan rate back at the new month, after each usage refresh (docs/enforcement.md); null = off. */
  fup?: Partial<FupEnforcerConfig> | null;
  coa?: { timeoutMs?: number; retries?: number; inFlightMax?: number };
  simulator?: { sessions: number; interimIntervalS?: number; rampMs?: number } | null;
  /** NAT syslog ingest (docs/nat-ingest.md); absent or null = off. Its spool is <dataDir>/nat/. */
  nat?: Omit<NatServiceConfig, "databaseUrl" | "dataDir"> | null;
  /** Billing/dunning job queue (docs/billing-runs.md); absent or null = off. */
  billingScheduler?: Omit<BillingSchedulerConfig, "databaseUrl"> | null;
  log?: Logger;
}

export interface CollectorCounters {
  authAccepts: number;
  authRejects: number;
  rejectsByReason: Record<string, number>;
  /** Malformed packets, unknown NAS, bad authenticators, not stored: requests left unanswered. */
  readonly dropped: number;
  acctResponses: number;
  acctNotAcked: number;
  /** NAT ingest counters (received, stored, quarantined, skipped, dropped, spooled, replayed, ...); null when off. */
  readonly nat: NatCounters | null;
}

export interface Collector {
  start(): Promise<{ auth: number; acct: number; live: number }>;
  stop(): Promise<void>;
  readonly ports: { auth: number; acct: number; live: number };
  readonly counters: CollectorCounters;
  /** Internals, for tests and the dev simulator. */
  readonly internals: {
    pool: pg.Pool | null;
    sessions: SessionStore | null;
    spool: AcctSpool<SpooledRecord> | null;
    enforcement: EnforcementWorker | null;
    reconciler: Reconciler | null;
    secretSync: SecretSync | null;
    routers: RouterCache | null;
    subscribers: SubscriberCache | null;
    auth: AuthService | null;
    authLog: AuthLogWriter | null;
    acct: AccountingService | null;
    authEndpoint: RadiusEndpoint | null;
    acctEndpoint: RadiusEndpoint | null;
    nat: NatService | null;
    openSessions: OpenSessionIndex | null;
    usage: UsageCache | null;
    fup: FupEnforcer | null;
  };
}

async function withDeadline(name: string, work: Promise<unknown>, deadlineAt: number, log: Logger): Promise<void> {
  const left = Math.max(0, deadlineAt - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), left)));
  try {
    const res = await Promise.race([work.then(() => "ok" as const), late]);
    if (res === "late") log.warn(`stop: ${name} did not finish before the deadline`);
  } catch (err) {
    log.warn(`stop: ${name} failed`, { error: (err as Error).message });
  } finally {
    clearTimeout(timer);
  }
}

export function createCollector(config: CollectorConfig): Collector {
  const log = config.log ?? createLogger("info");
  let authEndpoint: RadiusEndpoint | null = null;
  let acctEndpoint: RadiusEndpoint | null = null;
  const counters: CollectorCounters = {
    authAccepts: 0,
    authRejects: 0,
    rejectsByReason: {},
    get dropped() {
      return (authEndpoint?.dropped() ?? 0) + (acctEndpoint?.dropped() ?? 0);
    },
    acctResponses: 0,
    acctNotAcked: 0,
    get nat() {
      return nat?.counters ?? null;
    },
  };
  const ports = { auth: 0, acct: 0, live: 0 };
  const routerLastSeen = new Map<number, Date>();

  let pool: pg.Pool | null = null;
  let routers: RouterCache | null = null;
  let subscribers: SubscriberCache | null = null;
  let subscriberListener: PgListener | null = null;
  let spool: AcctSpool<SpooledRecord> | null = null;
  let sessions: SessionStore | null = null;
  let auth: AuthService | null = null;
  let openSessions: OpenSessionIndex | null = null;
  let authLog: AuthLogWriter | null = null;
  let acct: AccountingService | null = null;
  let hub: LiveHub | null = null;
  let enforcement: EnforcementWorker | null = null;
  let reconciler: Reconciler | null = null;
  let usageCache: UsageCache | null = null;
  let fup: FupEnforcer | null = null;
  let secretSync: SecretSync | null = null;
  let secretsRotationRef: SecretsRotation | null = null;
  let disconnectSender: DisconnectSenderHandle | null = null;
  let simulation: Simulation | null = null;
  let nat: NatService | null = null;
  let billingScheduler: BillingScheduler | null = null;
  const timers: NodeJS.Timeout[] = [];

  const every = (ms: number, name: string, job: () => Promise<unknown>) => {
    let busy = false;
    const t = setInterval(() => {
      if (busy) return;
      busy = true;
      job()
        .catch((err: Error) => log.warn(`${name} failed`, { error: err.message }))
        .finally(() => (busy = false));
    }, ms);
    t.unref();
    timers.push(t);
  };


  return {
    async start() {
      // 1. Database.
      pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolMax ?? 10, application_name: "isp-collector" });
      pool.on("error", (err) => log.warn("idle PostgreSQL client error", { error: err.message }));
      await pool.query("SELECT 1");

      // 2. Caches (the RADIUS hot path reads them synchronously).
      routers = createRouterCache(pool);
      subscribers = createSubscriberCache(pool, log.child("cache"));
      // Legacy plain-text passwords are encrypted before the cache ever holds them.
      const secretsKey = toKeyring(config.secretsKey ?? DEV_SECRETS_KEY);
      const encrypted = await encryptPlainPasswords(pool, secretsKey);
      if (encrypted > 0) log.info(`encrypted ${encrypted} plain-text PPPoE passwords`);
      // Key rotation: counts by key id logged; values on previous keys re-encrypted in the background.
      const secretsRotation = (secretsRotationRef = createSecretsRotation({ q: pool, keyring: secretsKey, log: log.child("secrets") }));
      await secretsRotation.atStart();
      await Promise.all([routers.load(), subscribers.load()]);
      const subs = subscribers;
      const rc0 = routers;
      subscriberListener = createPgListener({
        url: config.databaseUrl,
        channels: ["subscriber_changed", "router_changed", "ip_pool_changed", "escalation_changed"],
        onNotify: (ch, payload) => {
          if (ch === "escalation_changed") {
            // The web acknowledged an escalation: NOC screens refresh (the hub starts later; none before it).
            if (payload && /^\d{1,19}$/.test(payload)) hub?.emitEscalationChanged({ actionId: payload });
            return;
          }
          if (ch === "router_changed") {
            void rc0.load().catch((err: Error) => log.warn("router reload failed", { error: err.message }));
            return;
          }
          if (ch === "ip_pool_changed") {
            void auth?.reloadPools().catch((err: Error) => log.warn("pool reload failed", { error: err.message }));
            return;
          }
          const planId = payload?.startsWith("plan:") ? Number(payload.slice(5)) : NaN;
          const id = Number(payload);
          void (Number.isInteger(planId) && planId > 0 ? subs.reloadPlan(planId) : Number.isInteger(id) && id > 0 ? subs.reloadOne(id) : subs.load()).catch(
            (err: Error) => log.warn("subscriber reload failed", { error: err.message }),
          );
        },
        onReconnect: () => void Promise.all([subs.load(), rc0.load()]).catch(() => undefined),
        log: log.child("cache"),
      });
      await subscriberListener.start();
      log.info(`caches loaded: ${routers.all().length} routers, ${subscribers.size} subscribers`);

      // 3. Accounting spool (what an earlier run left is replayed first), 4. session store.
      const dataDir = config.dataDir ?? mkdtempSync(join(tmpdir(), "isp-collector-"));
      if (!config.dataDir) log.warn(`no dataDir: accounting spool in ${dataDir} (not kept across restarts)`);
      spool = createAcctSpool<SpooledRecord>({ dir: join(dataDir, "acct"), maxBytes: config.spoolMaxBytes ?? 256 * 1024 * 1024, codec: acctSpoolCodec });
      const spooled = await spool.open();
      if (spooled.records > 0 || spooled.tornBytes > 0) {
        log.info(`accounting spool: ${spooled.records} records to replay`, spooled.tornBytes > 0 ? { tornBytesSetAside: spooled.tornBytes } : undefined);
      }
      const acctLog = log.child("acct");
      const p0 = pool;
      const os = (openSessions = createOpenSessionIndex({
        sessionsMax: config.openSessionsMax,
        onOverflow: (n) => log.warn(`open-session index over its bound (${n} sessions): simultaneous use is checked in the database`),
      }));
      sessions = createSessionStore(pool, {
        writer: config.writer,
        onActive: (active) => os.opened(active),
        onEnded: (ended) => {
          os.closed(ended);
          onSessionsEnded(ended, { pool: p0, log: acctLog });
        },
        onDroppedUsage: (n) => log.warn(`dropped ${n} negative usage rows`),
      });

      // 5. RADIUS servers.
      const markSeen = (routerId: number) => routerLastSeen.set(routerId, new Date());
      const usage = (usageCache = createUsageCache(pool));
      await usage.refresh();
      authLog = createAuthLogWriter(pool, log.child("auth-log"), config.authLog);
      authLog.start();
      auth = createAuthService({
        pool,
        routers,
        subscribers,
        usage,
        authLog,
        secretsKey,
        counters,
        markSeen,
        policy: {
          acctInterimIntervalS: config.acctInterimIntervalS ?? 60,
          sessionTimeoutS: config.sessionTimeoutS ?? null,
          suspendedPolicyDefault: config.suspendedPolicyDefault ?? "reject",
          walledGarden: { addressList: "walled-garden", downloadKbps: 256, uploadKbps: 256, ...config.walledGarden },
        },
        log: log.child("auth"),
        openSessions: os,
      });
      await auth.reloadPools();
      // Before the replayer and the accounting port: no commit can slip past the snapshot.
      await os.load(pool).catch((err: Error) => log.warn("open-session index not loaded: simultaneous use is checked in the database", { error: err.message }));
      acct = createAccountingService({ routers, subscribers, sessions, spool, counters, markSeen, log: acctLog, slowWriteMs: config.slowWriteMs });
      acct.start();
      const rc = routers;
      const endpointOptions = (name: string) => ({
        host: config.radiusHost ?? "0.0.0.0",
        secretFor: (ip: string) => rc.secretFor(ip),
        log: log.child(name),
      });
      const as = auth;
      authEndpoint = await createAuthEndpoint(
        {
          ...endpointOptions("radius-auth"),
          port: config.authPort,
          requireMessageAuthenticatorFor: (ip) => rc.byIp(ip)?.requireMessageAuthenticator ?? true,
          onDrop: (reason, info) => {
            const r =
              reason === "missing-message-authenticator"
                ? "missing_message_authenticator"
                : reason === "proxy-state-without-message-authenticator"
                  ? "proxy_state_without_message_authenticator"
                  : "bad_message_authenticator";
            if (info.code === 1) as.logDrop(r, { nasIp: info.nasIp, userName: info.userName, callingStationId: info.callingStationId, method: info.authMethod });
          },
        },
        auth.handle,
      );
      ports.auth = authEndpoint.port;
      // NAT ingest before the accounting port opens, so its session index sees every record.
      if (config.nat) {
        nat = createNatService({ ...config.nat, databaseUrl: config.databaseUrl, dataDir }, { pool, routers, subscribers, log: log.child("nat") });
        const sp = await nat.start();
        log.info(`NAT syslog udp/${sp.udp ?? "off"}, tcp/${sp.tcp ?? "off"}`);
      }
      acctEndpoint = await createAcctEndpoint({ ...endpointOptions("radius-acct"), port: config.acctPort }, nat ? nat.observe(acct.handle) : acct.handle);
      ports.acct = acctEndpoint.port;

      // 6. Live hub.
      hub = createLiveHub(
        { host: config.liveHost, port: config.livePort, corsOrigin: config.liveCorsOrigin, authSecret: config.authSecret, tickMs: config.liveTickMs },
        createLiveQueries({
          pool,
          counters: () => {
            const n = nat?.counters;
            return {
              authAccepts: counters.authAccepts,
              authRejects: counters.authRejects,
              dropped: counters.dropped,
              ...(n ? { nat: { received: n.received, stored: n.stored, quarantined: n.quarantined, skipped: n.skipped, dropped: n.dropped, spooled: n.spooled, replayed: n.replayed } } : {}),
            };
          },
          routerLastSeen: (id) => routerLastSeen.get(id),
          routerHealth: (id) => reconciler?.health(id),
          rateLimit: planRateLimit,
        }),
        log.child("live"),
      );
      ports.live = (await hub.start()).port;

      // 7. Enforcement worker.
      const h = hub;
      disconnectSender = createDisconnectSender({ ...config.coa, log: log.child("coa") });
      // /ppp/secret of local-auth routers follows every billing action (secret-sync.ts).
      let secrets: SecretSync | null = null;
      enforcement = createEnforcementWorker({
        afterFinish: (subscriberId, kind) => secrets?.onAction(subscriberId, kind),
        pool,
        databaseUrl: config.databaseUrl,
        send: disconnectSender.send,
        emit: (event) => h.emitEnforcementResult(event),
        log: log.child("enforcement"),
        config: { walledGardenList: config.walledGarden?.addressList ?? "walled-garden", ...config.enforcement },
      });
      const e0 = enforcement;
      secretSync = secrets = createSecretSync({ pool, adapterFor: (r) => e0.adapterFor(r), secretsKey, log: log.child("secrets") });
      await enforcement.start();
      if (config.reconcile !== null) {
        const e = enforcement;
        reconciler = createReconciler({
          pool,
          adapterFor: (r) => e.adapterFor(r),
          routerLastSeen: (id) => routerLastSeen.get(id),
          emit: (event) => h.emitEnforcementResult(event),
          secrets,
          monthBytes: (id) => usage.monthBytes(id),
          log: log.child("reconcile"),
          config: { suspendedPolicyDefault: config.suspendedPolicyDefault ?? "reject", ...config.reconcile },
        });
        reconciler.start();
      }

      // 8. Schedulers.
      const p = pool;
      every(config.routerRefreshMs ?? 30_000, "router refresh", () => Promise.all([rc.load(), as.reloadPools()]));
      // Rows written with a plain-text password (legacy writers) are encrypted within one poll.
      every(config.subscriberChangesPollMs ?? 5_000, "subscriber changes", async () => {
        await encryptPlainPasswords(p, secretsKey);
        await subs.refreshChanged();
      });
      every(config.secretsRotateMs ?? 60_000, "secrets re-encryption", () => secretsRotation.sweep());
      // The FUP enforcer acts on the counters just read: throttle on crossing, plan rate back at the new month.
      const fe = (fup = config.fup === null ? null : createFupEnforcer({ pool, usage, log: log.child("fup"), config: config.fup }));
      every(60_000, "fair-usage counters", async () => {
        await usage.refresh();
        await fe?.run();
      });
      every(60_000, "stale address leases", () => releaseStaleAllocations(p, config.leaseGraceS ?? 600));
      every(60_000, "stale IPv6 prefix leases", () => releaseStalePrefixes(p, config.leaseGraceS ?? 600));
      every(config.subscriberRefreshMs ?? 300_000, "subscriber reload", () => subs.load());
      // Sessions whose NAS went quiet (no interim for staleAfterS) are marked stale, so
      // the wall does not count ghosts after a router dies without Accounting-Off.
      const staleAfterS = config.staleAfterS ?? 3 * (config.acctInterimIntervalS ?? 60);
      const a = acct;
      every(config.staleSweepMs ?? 60_000, "stale sessions", async () => {
        const stale = await a.sweepStale(staleAfterS);
        if (stale && stale.length > 0) log.child("acct").warn(`${stale.length} sessions stale (no accounting for ${staleAfterS} s)`);
      });
      every(config.rollupIntervalMs ?? 60_000, "usage rollup", () => runRollupJob(p));
      if (config.billingScheduler) {
        billingScheduler = createBillingScheduler({
          pool,
          log: log.child("billing"),
          emit: (event) => h.emitBillingProgress(event),
          config: { ...config.billingScheduler, databaseUrl: config.databaseUrl },
        });
        // RADIUS does not depend on billing: a scheduler that cannot start is logged, not fatal.
        await billingScheduler.start().catch((err: Error) => log.error("billing scheduler not started: runs are not scheduled", { error: err.message }));
      }

      if (config.simulator && config.simulator.sessions > 0) {
        simulation = await startSimulation({
          pool,
          authPort: ports.auth,
          acctPort: ports.acct,
          sessions: config.simulator.sessions,
          interimIntervalS: config.simulator.interimIntervalS ?? 10,
          rampMs: config.simulator.rampMs ?? 20_000,
          secretsKey,
          // A few NAT log lines per router and second, so the compliance lookup has data.
          natSyslog: nat?.internals.listener?.ports.udp ? { port: nat.internals.listener.ports.udp, linesPerSecondPerRouter: 2 } : null,
          log: log.child("simulator"),
        });
      }
      return { ...ports };
    },

    async stop() {
      const deadlineAt = Date.now() + (config.stopDeadlineMs ?? 10_000);
      for (const t of timers.splice(0)) clearInterval(t);
      // A re-encryption sweep in flight ends after its batch; the next start resumes it.
      if (secretsRotationRef) await withDeadline("secrets re-encryption", secretsRotationRef.stop(), deadlineAt, log);
      // A billing run in progress gets a few seconds to finish its chunk; if cut off it
      // resumes from its cursor at the next start.
      if (billingScheduler) await withDeadline("billing scheduler", billingScheduler.stop(Math.min(5000, Math.max(0, deadlineAt - Date.now()))), deadlineAt, log);
      // The simulator is a client of our RADIUS ports: stop it before them.
      if (simulation) await withDeadline("simulator", simulation.stop(), deadlineAt, log);
      // Stop accepting RADIUS first, so nothing new enters the writer while it drains;
      // records already being handled still get their flush and their answer.
      if (authEndpoint) await withDeadline("auth server", authEndpoint.close(), deadlineAt, log);
      if (acctEndpoint) await withDeadline("acct server", acctEndpoint.close(), deadlineAt, log);
      // Stop listening for syslog, then write (or spool) every line already received.
      if (nat) await withDeadline("NAT ingest", nat.stop(), deadlineAt, log);
      // Spooled records not yet replayed stay on disk and are replayed at the next start.
      if (acct) await withDeadline("spool replayer", acct.stop(), deadlineAt, log);
      if (reconciler) await withDeadline("reconciler", reconciler.stop(), deadlineAt, log);
      // A fair-usage pass in flight finishes its requests (each one transaction) before the pool goes.
      if (fup) await withDeadline("fair-usage pass", fup.idle(), deadlineAt, log);
      // The worker records the answers of Disconnects in flight (needs the pool).
      if (enforcement) await withDeadline("enforcement worker", enforcement.stop(Math.max(0, deadlineAt - Date.now())), deadlineAt, log);
      // /ppp/secret syncs the worker's last answers queued (the reconciler repairs any cut short).
      if (secretSync) await withDeadline("secret sync", secretSync.idle(), deadlineAt, log);
      if (disconnectSender) await withDeadline("CoA client", disconnectSender.close(), deadlineAt, log);
      if (hub) await withDeadline("live hub", hub.stop(), deadlineAt, log);
      // Drain the session store before the database goes: an ACKed record is already
      // durable, but records still queued belong to requests that will be retransmitted.
      if (sessions) await withDeadline("session store drain", sessions.stop(), deadlineAt, log);
      if (spool) await withDeadline("spool close", spool.close(), deadlineAt, log);
      if (authLog) await withDeadline("auth log flush", authLog.stop(), deadlineAt, log);
      if (subscriberListener) await withDeadline("subscriber listener", subscriberListener.stop(), deadlineAt, log);
      if (pool) await withDeadline("database pool", pool.end(), deadlineAt, log);
      simulation = null;
      billingScheduler = null;
      nat = null;
      authEndpoint = acctEndpoint = null;
      enforcement = null;
      reconciler = null;
      fup = null;
      usageCache = null;
      secretSync = null;
      hub = null;
      sessions = null;
      spool = null;
      acct = null;
      authLog = null;
      subscriberListener = null;
      pool = null;
    },
    ports,
    counters,
    get internals() {
      return { pool, sessions, spool, enforcement, reconciler, secretSync, routers, subscribers, auth, authLog, acct, authEndpoint, acctEndpoint, nat, openSessions, usage: usageCache, fup };
    },
  };
}
