// NAT syslog ingest end to end: util-linux `logger` as a real syslog client (UDP, TCP
// with LF framing and with octet counting, RFC 3164 and RFC 5424) into the listener, the
// ingest and PostgreSQL; then a database outage in the middle of a TCP stream (a proxy
// in front of PostgreSQL that refuses and cuts connections) with every line stored once.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSyslog } from "@isp/network/nat/parse";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { silentLogger } from "../log";
import { createPgNatDb } from "./nat-db";
import { createNatIngest, type NatIngest } from "./nat-ingest";
import { createSessionIndex, loadRecentSessions } from "./nat-resolver";
import { openNatSpool, type NatSpool } from "./nat-spool";
import { createSyslogListener, type SyslogListener } from "./syslog-listener";

const run = promisify(execFile);
const samplesDir = join(dirname(createRequire(import.meta.url).resolve("@isp/network/nat/parse")), "samples");
/** The MSG part of each sample line: logger writes its own PRI, timestamp and host. */
const messages = (name: string) =>
  readFileSync(join(samplesDir, name), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => parseSyslog(l, new Date()).message);

let db: TestDatabase;
let pool: pg.Pool;
let routerId: number;
const subscriberByUser = new Map<string, number>();
const dirs: string[] = [];
let ahmed: number;
let bilal: number;
let sana: number;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 10 });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // logger sends from 127.0.0.1, the seeded KHI-BNG-01.
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE ip_address = '127.0.0.1'")).rows[0]!.id;
  const ids = (await pool.query<{ id: number }>("SELECT id FROM subscribers ORDER BY id LIMIT 3")).rows.map((r) => r.id);
  [ahmed, bilal, sana] = ids as [number, number, number];
  await pool.query("UPDATE subscribers SET pppoe_username = 'ahmed.khan' WHERE id = $1", [ahmed]);
  for (const r of (await pool.query<{ id: number; pppoe_username: string }>("SELECT id, pppoe_username FROM subscribers")).rows) subscriberByUser.set(r.pppoe_username, r.id);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function session(acctSessionId: string, subscriberId: number, ip: string, startedAt: Date, stoppedAt: Date | null) {
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, started_at, last_update_at, stopped_at)
     VALUES ($1, $2, $3, 'x', $4::session_status, $5::inet, $6::timestamptz, COALESCE($7::timestamptz, $6::timestamptz), $7::timestamptz)`,
    [routerId, acctSessionId, subscriberId, stoppedAt ? "stopped" : "active", ip, startedAt, stoppedAt],
  );
}

interface Rig {
  ingest: NatIngest;
  listener: SyslogListener;
  spool: NatSpool;
  natPool: pg.Pool;
  stop(): Promise<void>;
}

async function rig(databaseUrl: string, config: Parameters<typeof createNatIngest>[0]["config"] = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "nat-it-"));
  dirs.push(dir);
  const natPool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 2_000 });
  natPool.on("error", () => undefined);
  const index = createSessionIndex();
  await loadRecentSessions(pool, index, new Date(Date.now() - 86_400_000), 10_000);
  const spool = await openNatSpool(dir, 64 * 1024 * 1024);
  const ingest = createNatIngest({
    db: createPgNatDb(natPool, { statementTimeoutMs: 5_000 }),
    index,
    spool,
    routerIdFor: (ip) => (ip === "127.0.0.1" ? routerId : null),
    subscriberIdFor: (u) => subscriberByUser.get(u) ?? null,
    log: silentLogger,
    config: { flushIntervalMs: 20, retryMs: 100, logEveryMs: 0, ...config },
  });
  ingest.start();
  const listener = createSyslogListener({ host: "127.0.0.1", udpPort: 0, tcpPort: 0 }, ingest, silentLogger);
  await listener.start();
  return {
    ingest,
    listener,
    spool,
    natPool,
    async stop() {
      await listener.close();
      await ingest.stop();
      await spool.close();
      await natPool.end();
    },
  };
}

async function logger(port: number, args: string[], lines: string[], tz = "UTC") {
  const file = join(dirs[0] ?? tmpdir(), `msgs-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  await run("logger", ["--server", "127.0.0.1", "--port", String(port), ...args, "-f", file], { env: { ...process.env, TZ: tz } });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const count = async (sql: string, params: unknown[] = []) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);

describe("NAT ingest over real syslog into PostgreSQL", () => {
  it("stores MikroTik, Juniper and Cisco lines from logger over UDP and TCP, resolving subscribers", async () => {
    const now = Date.now();
    // 10.0.10.91 (bilal-0321 is no username here): resolved by the session holding the IP now.
    await session("B-1", bilal, "10.0.10.91", new Date(now - 3_600_000), null);
    // 10.0.11.4 (sana_r, unknown username): its session stopped a minute ago, so not resolved.
    await session("S-old", sana, "10.0.11.4", new Date(now - 7_200_000), new Date(now - 60_000));
    // 10.0.10.5 (kamran): a session that starts after the line: not resolved either.
    await session("K-future", sana, "10.0.10.5", new Date(now + 3_600_000), null);
    const r = await rig(db.url);
    try {
      const mikrotik = messages("mikrotik.log");
      const juniper = messages("juniper-srx.log");
      const cisco = messages("cisco.log");
      const bad = messages("malformed.log");
      // Routers log PKT wall time in RFC 3164 (the ingest's default offset).
      await logger(r.listener.ports.udp!, ["--udp", "--rfc3164", "--tag", "router"], mikrotik, "Asia/Karachi");
      await logger(r.listener.ports.tcp!, ["--tcp", "--octet-count", "--rfc5424", "--tag", "RT_FLOW"], juniper);
      await logger(r.listener.ports.tcp!, ["--tcp", "--rfc3164", "--tag", "asr1k"], cisco, "Asia/Karachi");
      await logger(r.listener.ports.udp!, ["--udp", "--rfc5424", "--tag", "router"], bad);
      const total = mikrotik.length + juniper.length + cisco.length + bad.length;
      await until("all lines received", () => r.ingest.counters.received === total);
      await r.ingest.flush();

      const c = r.ingest.counters;
      expect(c).toMatchObject({ received: total, dropped: 0, spooled: 0 });
      // malformed.log: 8 unusable NAT lines (quarantined) and 6 non-NAT lines (skipped).
      expect(c.quarantined).toBe(8);
      expect(c.skipped).toBe(6);
      expect(c.stored).toBe(total - 14);
      expect(await count("SELECT count(*)::text AS n FROM nat_log")).toBe(c.stored);
      expect(await count("SELECT count(*)::text AS n FROM nat_quarantine")).toBe(8);
      expect(await count("SELECT count(*)::text AS n FROM nat_quarantine WHERE reason = 'nat_invalid_ip' AND raw LIKE '%10.0.10.256%'")).toBe(1);
      expect(await count("SELECT count(*)::text AS n FROM nat_log WHERE router_id = $1", [routerId])).toBe(c.stored);

      const sub = async (privateIp: string) =>
        (await pool.query<{ subscriber_id: number | null; acct_session_id: string | null }>("SELECT subscriber_id, acct_session_id FROM nat_log WHERE private_ip = $1::inet", [privateIp])).rows;
      expect((await sub("10.0.10.76")).map((x) => x.subscriber_id)).toEqual([ahmed, ahmed]); // by PPPoE user
      expect(await sub("10.0.10.91")).toEqual([{ subscriber_id: bilal, acct_session_id: "B-1" }]); // by session
      expect(await sub("10.0.11.4")).toEqual([{ subscriber_id: null, acct_session_id: null }]); // session already stopped
      expect(await sub("10.0.10.5")).toEqual([{ subscriber_id: null, acct_session_id: null }]); // session not yet started
      const jun = await pool.query<{ public_ip: string; public_port: number; event: string; protocol: string; time: Date }>(
        "SELECT host(public_ip) AS public_ip, public_port, event, protocol, time FROM nat_log WHERE private_ip = '100.64.1.5'::inet ORDER BY event::text",
      );
      expect(jun.rows.map((x) => [x.event, x.protocol, x.public_ip, x.public_port])).toEqual([
        ["close", "tcp", "203.0.113.20", 40001],
        ["open", "tcp", "203.0.113.20", 40001],
      ]);
      // logger stamps the send time; PKT (RFC 3164) and explicit offsets (RFC 5424) both land near now.
      const times = await pool.query<{ t: Date }>("SELECT time AS t FROM nat_log");
      for (const { t } of times.rows) expect(Math.abs(t.getTime() - now)).toBeLessThan(60_000);
    } finally {
      await r.stop();
    }
  });

  it("loses no line when the database goes away mid-stream and comes back", { timeout: 60_000 }, async () => {
    // A TCP proxy in front of PostgreSQL: closing it refuses new connections and resets
    // the open ones, as a database restart does.
    const target = new URL(db.url);
    const conns = new Set<Socket>();
    let proxy: Server | null = null;
    const listen = (port: number) =>
      new Promise<number>((resolve, reject) => {
        const s = createServer((c) => {
          const up = connect(Number(target.port || 5432), target.hostname);
          conns.add(c).add(up);
          c.pipe(up).pipe(c);
          const drop = () => {
            c.destroy();
            up.destroy();
          };
          c.on("error", drop).on("close", drop);
          up.on("error", drop).on("close", drop);
        });
        s.once("error", reject);
        s.listen(port, "127.0.0.1", () => {
          proxy = s;
          resolve((s.address() as { port: number }).port);
        });
      });
    const down = async () => {
      const s = proxy;
      proxy = null;
      for (const c of conns) c.destroy();
      conns.clear();
      if (s) await new Promise((r) => s.close(() => r(undefined)));
    };
    const proxyPort = await listen(0);
    const proxied = new URL(db.url);
    proxied.host = `127.0.0.1:${proxyPort}`;

    await pool.query("TRUNCATE nat_log, nat_quarantine");
    const r = await rig(proxied.toString(), { batchLinesMax: 500 });
    const line = (i: number) =>
      `srcnat: in:<pppoe-ahmed.khan> out:ether1, connection-state:new proto UDP, 10.0.10.76:${10000 + i}->8.8.8.8:53, NAT (10.0.10.76:${10000 + i}->203.0.113.10:${10000 + i})->8.8.8.8:53, len 60`;
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, k) => line(from + k));
    try {
      const port = r.listener.ports.tcp!;
      await logger(port, ["--tcp", "--octet-count", "--rfc5424", "--tag", "router"], batch(0, 1500));
      await until("first part stored", () => r.ingest.counters.stored === 1500);
      await down();
      await logger(port, ["--tcp", "--octet-count", "--rfc5424", "--tag", "router"], batch(1500, 1500));
      await logger(port, ["--tcp", "--rfc5424", "--tag", "router"], batch(3000, 500));
      await until("outage spooled", () => r.ingest.counters.spooled === 2000 && r.ingest.queuedLines === 0);
      expect(r.spool.pendingBatches).toBeGreaterThan(0);
      await listen(proxyPort);
      await logger(port, ["--tcp", "--rfc5424", "--tag", "router"], batch(3500, 1500));
      await until("everything stored", () => r.ingest.counters.stored === 5000, 30_000);
      expect(r.spool.pendingBatches).toBe(0);
      const c = r.ingest.counters;
      expect(c).toMatchObject({ received: 5000, stored: 5000, dropped: 0, quarantined: 0 });
      // Lines that arrive before the spool is drained go behind it.
      expect(c.spooled).toBeGreaterThanOrEqual(2000);
      expect(c.replayed).toBe(c.spooled);
      expect(r.ingest.counters.outages).toBeGreaterThanOrEqual(1);
      const rows = await pool.query<{ n: string; distinct_ports: string; lo: number; hi: number; resolved: string }>(
        `SELECT count(*)::text AS n, count(DISTINCT private_port)::text AS distinct_ports, min(private_port) AS lo, max(private_port) AS hi,
                count(*) FILTER (WHERE subscriber_id = $1)::text AS resolved FROM nat_log`,
        [ahmed],
      );
      expect(rows.rows[0]).toEqual({ n: "5000", distinct_ports: "5000", lo: 10000, hi: 14999, resolved: "5000" });
    } finally {
      await r.stop();
      await down();
    }
  });

  it("sessionAt in SQL follows the same boundaries as the index", async () => {
    const natDb = createPgNatDb(pool);
    const start = new Date("2026-01-01T10:00:00Z");
    const stop = new Date("2026-01-01T11:00:00Z");
    await session("EDGE-1", ahmed, "10.99.0.1", start, stop);
    await session("EDGE-2", bilal, "10.99.0.1", new Date("2026-01-01T11:00:05Z"), null);
    expect(await natDb.sessionAt("10.99.0.1", new Date(start.getTime() - 1))).toBeNull();
    expect((await natDb.sessionAt("10.99.0.1", start))?.acctSessionId).toBe("EDGE-1");
    expect((await natDb.sessionAt("10.99.0.1", stop))?.acctSessionId).toBe("EDGE-1");
    expect(await natDb.sessionAt("10.99.0.1", new Date(stop.getTime() + 1))).toBeNull();
    expect(await natDb.sessionAt("10.99.0.1", new Date("2026-01-01T11:00:05Z"))).toMatchObject({ acctSessionId: "EDGE-2", subscriberId: bilal, stop: null });
  });
});
