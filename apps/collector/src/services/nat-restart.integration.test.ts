// A real PostgreSQL restart in the middle of a NAT syslog stream: an embedded server this
// test can stop and start (the shared test server cannot be). Lines sent by `logger`
// before, during and after the outage are all stored, each exactly once.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedServer } from "@isp/db/embedded";
import { migrate } from "@isp/db/migrate";
import { silentLogger } from "../log";
import { createPgNatDb } from "./nat-db";
import { createNatIngest, type NatIngest } from "./nat-ingest";
import { createSessionIndex } from "./nat-resolver";
import { openNatSpool, type NatSpool } from "./nat-spool";
import { createSyslogListener, type SyslogListener } from "./syslog-listener";

const run = promisify(execFile);
const parent = mkdtempSync(join(tmpdir(), "nat-restart-"));
const pgDir = join(parent, "pg");
let port: number;
let server: EmbeddedServer | null = null;
let natPool: pg.Pool;
let spool: NatSpool;
let ingest: NatIngest;
let listener: SyslogListener;

const freeTcpPort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

beforeAll(async () => {
  port = await freeTcpPort();
  server = await startEmbeddedPostgres({ dataDir: pgDir, port });
  await migrate(server.url);
  natPool = new pg.Pool({ connectionString: server.url, max: 3, connectionTimeoutMillis: 2_000 });
  natPool.on("error", () => undefined);
  spool = await openNatSpool(join(parent, "spool"), 64 * 1024 * 1024);
  ingest = createNatIngest({
    db: createPgNatDb(natPool, { statementTimeoutMs: 5_000 }),
    index: createSessionIndex(),
    spool,
    routerIdFor: () => null,
    subscriberIdFor: () => null,
    log: silentLogger,
    config: { flushIntervalMs: 20, retryMs: 200, logEveryMs: 0, batchLinesMax: 500 },
  });
  ingest.start();
  listener = createSyslogListener({ host: "127.0.0.1", udpPort: 0, tcpPort: 0 }, ingest, silentLogger);
  await listener.start();
}, 120_000);

afterAll(async () => {
  await listener?.close();
  await ingest?.stop();
  await spool?.close();
  await natPool?.end();
  await server?.stop();
  rmSync(parent, { recursive: true, force: true });
}, 60_000);

const line = (i: number) =>
  `srcnat: in:<pppoe-u${i % 50}> out:ether1, connection-state:new proto TCP (SYN), 10.0.10.76:${10000 + i}->40.127.110.237:443, NAT (10.0.10.76:${10000 + i}->203.0.113.10:${10000 + i})->40.127.110.237:443, len 60`;

async function send(from: number, n: number, args: string[]) {
  const file = join(parent, `m-${from}.txt`);
  writeFileSync(file, `${Array.from({ length: n }, (_, k) => line(from + k)).join("\n")}\n`);
  await run("logger", ["--server", "127.0.0.1", "--port", String(args.includes("--udp") ? listener.ports.udp : listener.ports.tcp), ...args, "--tag", "router", "-f", file]);
}

async function until(what: string, cond: () => boolean, ms = 30_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(ingest.counters)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("NAT ingest across a PostgreSQL restart", () => {
  it("spools while the server is down and stores every line exactly once after it restarts", { timeout: 120_000 }, async () => {
    await send(0, 1000, ["--tcp", "--octet-count", "--rfc5424"]);
    await until("first part stored", () => ingest.counters.stored === 1000);

    await server!.stop();
    server = null;
    await send(1000, 1000, ["--tcp", "--octet-count", "--rfc5424"]);
    await send(2000, 500, ["--tcp", "--rfc3164"]);
    await until("outage spooled", () => ingest.counters.spooled === 1500 && ingest.queuedLines === 0);
    expect(spool.pendingBatches).toBeGreaterThan(0);
    expect(ingest.counters.outages).toBe(1);

    server = await startEmbeddedPostgres({ dataDir: pgDir, port });
    await send(2500, 1500, ["--tcp", "--octet-count", "--rfc5424"]);
    await until("everything stored", () => ingest.counters.stored === 4000, 60_000);
    expect(spool.pendingBatches).toBe(0);
    const c = ingest.counters;
    expect(c).toMatchObject({ received: 4000, stored: 4000, quarantined: 0, skipped: 0, dropped: 0 });
    expect(c.replayed).toBe(c.spooled);

    const probe = new pg.Client({ connectionString: server.url });
    await probe.connect();
    try {
      const r = await probe.query<{ n: string; ports: string; lo: number; hi: number }>(
        "SELECT count(*)::text AS n, count(DISTINCT private_port)::text AS ports, min(private_port) AS lo, max(private_port) AS hi FROM nat_log",
      );
      expect(r.rows[0]).toEqual({ n: "4000", ports: "4000", lo: 10000, hi: 13999 });
    } finally {
      await probe.end();
    }
  });
});
