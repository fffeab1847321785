// The NAT log ingest as one collector service: syslog listener -> ingest queue -> batches
// into nat_log / nat_quarantine on its own small pool (so a burst of NAT logs never takes
// connections from RADIUS), a local spool for database outages, and the session index
// that resolves subscribers at ingest (fed by the accounting handler, see observe()).
import { join } from "node:path";
import pg from "pg";
import type { Logger } from "../log";
import type { RouterCache, SubscriberCache } from "./caches";
import { createPgNatDb } from "./nat-db";
import { createNatIngest, type NatIngest, type NatIngestConfig, type NatIngestCounters } from "./nat-ingest";
import { createSessionIndex, loadRecentSessions, observeAccounting, type SessionIndexConfig } from "./nat-resolver";
import { openNatSpool, type NatSpool } from "./nat-spool";
import type { AcctHandler } from "./radius-types";
import { createSyslogListener, type SyslogListener, type SyslogListenerConfig, type SyslogListenerCounters } from "./syslog-listener";

export interface NatServiceConfig {
  databaseUrl: string;
  syslog: Partial<SyslogListenerConfig>;
  /** The spool lives in <dataDir>/nat/. */
  dataDir: string;
  spoolBytesMax?: number;
  ingest?: Partial<NatIngestConfig>;
  index?: Partial<SessionIndexConfig>;
  /** Sessions open within this window are loaded into the index at start. */
  indexWarmHours?: number;
  poolMax?: number;
}

export interface NatCounters extends NatIngestCounters {
  listener: SyslogListenerCounters;
  queuedLines: number;
  spooledBatches: number;
  indexedIps: number;
}

export interface NatService {
  /** Wraps the accounting handler so acknowledged records update the session index. */
  observe(handler: AcctHandler): AcctHandler;
  start(): Promise<{ udp: number | null; tcp: number | null }>;
  /** Stops listening, then writes (or spools) everything queued. */
  stop(): Promise<void>;
  readonly counters: NatCounters | null;
  readonly internals: { ingest: NatIngest | null; listener: SyslogListener | null; spool: NatSpool | null };
}

export function createNatService(
  config: NatServiceConfig,
  deps: { pool: pg.Pool; routers: RouterCache; subscribers: SubscriberCache; log: Logger },
): NatService {
  const { log } = deps;
  const index = createSessionIndex(config.index);
  let natPool: pg.Pool | null = null;
  let spool: NatSpool | null = null;
  let ingest: NatIngest | null = null;
  let listener: SyslogListener | null = null;

  return {
    observe(handler) {
      return observeAccounting(handler, index, {
        routerId: (ip) => deps.routers.byIp(ip)?.id,
        subscriberId: (username) => deps.subscribers.cachedByUsername(username)?.id ?? null,
      });
    },
    async start() {
      try {
        const since = new Date(Date.now() - (config.indexWarmHours ?? 24) * 3_600_000);
        const n = await loadRecentSessions(deps.pool, index, since, config.index?.ipsMax ?? 200_000);
        log.debug(`session index: ${n} sessions loaded`);
      } catch (err) {
        // Not fatal: misses fall back to the database per IP.
        log.warn("session index warm-up failed", { error: (err as Error).message });
      }
      // Session look-ups must be quick (writes raise their own limit per transaction); the
      // client-side timeout also covers a database that stopped answering altogether.
      natPool = new pg.Pool({
        connectionString: config.databaseUrl,
        // Two concurrent batch writers plus one for session look-ups.
        max: config.poolMax ?? 3,
        connectionTimeoutMillis: 5_000,
        statement_timeout: 5_000,
        query_timeout: 45_000,
        application_name: "isp-collector-nat",
      });
      natPool.on("error", (err) => log.debug("idle NAT PostgreSQL client error", { error: err.message }));
      spool = await openNatSpool(join(config.dataDir, "nat"), config.spoolBytesMax ?? 1024 * 1024 * 1024);
      ingest = createNatIngest({
        db: createPgNatDb(natPool),
        index,
        spool,
        routerIdFor: (ip) => deps.routers.byIp(ip)?.id ?? null,
        subscriberIdFor: (user) => deps.subscribers.cachedByUsername(user)?.id ?? null,
        log,
        config: config.ingest,
      });
      ingest.start();
      listener = createSyslogListener(config.syslog, ingest, log);
      return listener.start();
    },
    async stop() {
      if (listener) await listener.close();
      if (ingest) await ingest.stop();
      if (spool) await spool.close();
      if (natPool) await natPool.end();
      listener = null;
      ingest = null;
      spool = null;
      natPool = null;
    },
    get counters() {
      if (!ingest || !listener) return null;
      return { ...ingest.counters, listener: { ...listener.counters }, queuedLines: ingest.queuedLines, spooledBatches: ingest.spooledBatches, indexedIps: index.size };
    },
    get internals() {
      return { ingest, listener, spool };
    },
  };
}
