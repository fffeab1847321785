// Composition root of the collector daemon. start() brings services up in dependency
// order; stop() takes them down in reverse, each step bounded by what is left of one
// deadline, so a stuck step cannot hang the process.
import pg from "pg";
import { runRollupJob } from "@isp/db/timeseries";
import { createLogger, type Logger } from "./log";
import { createRouterCache, createSubscriberCache, type RouterCache, type SubscriberCache } from "./services/caches";
import { createEnforcementWorker, type EnforcementWorker, type EnforcementWorkerConfig } from "./services/enforcement-worker";
import { createLiveHub, type LiveHub } from "./services/live-hub";
import { createLiveQueries } from "./services/live-queries";
import { createPgListener, type PgListener } from "./services/pg-listener";
import { createSessionStore, type SessionStore } from "./services/session-store";
import { createPgTsSink } from "./services/ts-sink";
import { createTsWriter, type TsWriter, type TsWriterConfig } from "./services/ts-writer";
import { createAuthService, type AuthService } from "./services/auth-service";
import { createAccountingService, type AccountingService } from "./services/accounting-service";
import { createAcctEndpoint, createAuthEndpoint, createDisconnectSender, planRateLimit, type DisconnectSenderHandle, type RadiusEndpoint } from "./services/radius-glue";
import { startSimulation, type Simulation } from "./dev/simulate";

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
  sessionTimeoutS?: number | null;
  /** PostgreSQL connections for queries (LISTEN uses its own). */
  poolMax?: number;
  routerRefreshMs?: number;
  /** Full reload of the subscriber cache. */
  subscriberRefreshMs?: number;
  /** Poll for subscribers whose updated_at moved. */
  subscriberChangesPollMs?: number;
  /** An active session without accounting for this long becomes `stale`. */
  staleAfterS?: number;
  rollupIntervalMs?: number;
  liveTickMs?: number;
  /** Whole stop() sequence. */
  stopDeadlineMs?: number;
  writer?: Partial<TsWriterConfig>;
  enforcement?: Partial<EnforcementWorkerConfig>;
  coa?: { timeoutMs?: number; retries?: number; inFlightMax?: number };
  simulator?: { sessions: number; interimIntervalS?: number; rampMs?: number } | null;
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
}

export interface Collector {
  start(): Promise<{ auth: number; acct: number; live: number }>;
  stop(): Promise<void>;
  readonly ports: { auth: number; acct: number; live: number };
  readonly counters: CollectorCounters;
  /** Internals, for tests and the dev simulator. */
  readonly internals: {
    pool: pg.Pool | null;
    writer: TsWriter | null;
    enforcement: EnforcementWorker | null;
    routers: RouterCache | null;
    subscribers: SubscriberCache | null;
    auth: AuthService | null;
    acct: AccountingService | null;
    authEndpoint: RadiusEndpoint | null;
    acctEndpoint: RadiusEndpoint | null;
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
  };
  const ports = { auth: 0, acct: 0, live: 0 };
  const routerLastSeen = new Map<number, Date>();

  let pool: pg.Pool | null = null;
  let routers: RouterCache | null = null;
  let subscribers: SubscriberCache | null = null;
  let subscriberListener: PgListener | null = null;
  let writer: TsWriter | null = null;
  let sessions: SessionStore | null = null;
  let auth: AuthService | null = null;
  let acct: AccountingService | null = null;
  let hub: LiveHub | null = null;
  let enforcement: EnforcementWorker | null = null;
  let disconnectSender: DisconnectSenderHandle | null = null;
  let simulation: Simulation | null = null;
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
      await Promise.all([routers.load(), subscribers.load()]);
      const subs = subscribers;
      subscriberListener = createPgListener({
        url: config.databaseUrl,
        channels: ["subscriber_changed"],
        onNotify: (_ch, payload) => {
          const id = Number(payload);
          void (Number.isInteger(id) && id > 0 ? subs.reloadOne(id) : subs.load()).catch((err: Error) =>
            log.warn("subscriber reload failed", { error: err.message }),
          );
        },
        onReconnect: () => void subs.load().catch(() => undefined),
        log: log.child("cache"),
      });
      await subscriberListener.start();
      log.info(`caches loaded: ${routers.all().length} routers, ${subscribers.size} subscribers`);

      // 3. Writer, 4. session store.
      writer = createTsWriter(
        createPgTsSink(pool, (n) => log.warn(`dropped ${n} negative usage rows`)),
        config.writer,
      );
      sessions = createSessionStore(pool, writer);

      // 5. RADIUS servers.
      const markSeen = (routerId: number) => routerLastSeen.set(routerId, new Date());
      auth = createAuthService({
        routers,
        subscribers,
        counters,
        markSeen,
        acctInterimIntervalS: config.acctInterimIntervalS ?? 60,
        sessionTimeoutS: config.sessionTimeoutS ?? null,
        log: log.child("auth"),
      });
      acct = createAccountingService({ routers, subscribers, sessions, counters, markSeen, log: log.child("acct") });
      const rc = routers;
      const endpointOptions = (name: string) => ({
        host: config.radiusHost ?? "0.0.0.0",
        secretFor: (ip: string) => rc.secretFor(ip),
        log: log.child(name),
      });
      authEndpoint = await createAuthEndpoint({ ...endpointOptions("radius-auth"), port: config.authPort }, auth.handle);
      ports.auth = authEndpoint.port;
      acctEndpoint = await createAcctEndpoint({ ...endpointOptions("radius-acct"), port: config.acctPort }, acct.handle);
      ports.acct = acctEndpoint.port;

      // 6. Live hub.
      hub = createLiveHub(
        { host: config.liveHost, port: config.livePort, corsOrigin: config.liveCorsOrigin, authSecret: config.authSecret, tickMs: config.liveTickMs },
        createLiveQueries({
          pool,
          counters: () => ({ authAccepts: counters.authAccepts, authRejects: counters.authRejects, dropped: counters.dropped }),
          routerLastSeen: (id) => routerLastSeen.get(id),
          rateLimit: planRateLimit,
        }),
        log.child("live"),
      );
      ports.live = (await hub.start()).port;

      // 7. Enforcement worker.
      const h = hub;
      disconnectSender = createDisconnectSender({ ...config.coa, log: log.child("coa") });
      enforcement = createEnforcementWorker({
        pool,
        databaseUrl: config.databaseUrl,
        send: disconnectSender.send,
        emit: (event) => h.emitEnforcementResult(event),
        log: log.child("enforcement"),
        config: config.enforcement,
      });
      await enforcement.start();

      // 8. Schedulers.
      const p = pool;
      every(config.routerRefreshMs ?? 30_000, "router refresh", () => rc.load());
      every(config.subscriberChangesPollMs ?? 5_000, "subscriber changes", () => subs.refreshChanged());
      every(config.subscriberRefreshMs ?? 300_000, "subscriber reload", () => subs.load());
      // Sessions whose NAS went quiet (no interim for staleAfterS) are marked stale, so
      // the wall does not count ghosts after a router dies without Accounting-Off.
      const staleAfterS = config.staleAfterS ?? Math.max(300, 3 * (config.acctInterimIntervalS ?? 60));
      every(60_000, "stale sessions", () =>
        p.query(
          "UPDATE radius_sessions SET status = 'stale', input_bps = 0, output_bps = 0 WHERE status = 'active' AND last_update_at < now() - make_interval(secs => $1)",
          [staleAfterS],
        ),
      );
      every(config.rollupIntervalMs ?? 60_000, "usage rollup", () => runRollupJob(p));

      if (config.simulator && config.simulator.sessions > 0) {
        simulation = await startSimulation({
          pool,
          authPort: ports.auth,
          acctPort: ports.acct,
          sessions: config.simulator.sessions,
          interimIntervalS: config.simulator.interimIntervalS ?? 10,
          rampMs: config.simulator.rampMs ?? 20_000,
          log: log.child("simulator"),
        });
      }
      return { ...ports };
    },

    async stop() {
      const deadlineAt = Date.now() + (config.stopDeadlineMs ?? 10_000);
      for (const t of timers.splice(0)) clearInterval(t);
      // The simulator is a client of our RADIUS ports: stop it before them.
      if (simulation) await withDeadline("simulator", simulation.stop(), deadlineAt, log);
      // Stop accepting RADIUS first, so nothing new enters the writer while it drains;
      // records already being handled still get their flush and their answer.
      if (authEndpoint) await withDeadline("auth server", authEndpoint.close(), deadlineAt, log);
      if (acctEndpoint) await withDeadline("acct server", acctEndpoint.close(), deadlineAt, log);
      // The worker records the answers of Disconnects in flight (needs the pool).
      if (enforcement) await withDeadline("enforcement worker", enforcement.stop(Math.max(0, deadlineAt - Date.now())), deadlineAt, log);
      if (disconnectSender) await withDeadline("CoA client", disconnectSender.close(), deadlineAt, log);
      if (hub) await withDeadline("live hub", hub.stop(), deadlineAt, log);
      // Flush the writer before the database goes: an ACKed record is already committed,
      // but rows still queued belong to requests that will otherwise be retransmitted.
      if (writer) await withDeadline("writer flush", writer.stop(), deadlineAt, log);
      if (subscriberListener) await withDeadline("subscriber listener", subscriberListener.stop(), deadlineAt, log);
      if (pool) await withDeadline("database pool", pool.end(), deadlineAt, log);
      simulation = null;
      authEndpoint = acctEndpoint = null;
      enforcement = null;
      hub = null;
      writer = null;
      subscriberListener = null;
      pool = null;
    },
    ports,
    counters,
    get internals() {
      return { pool, writer, enforcement, routers, subscribers, auth, acct, authEndpoint, acctEndpoint };
    },
  };
}
