// The NAT ingest inside the whole collector: RADIUS accounting (real packets) feeds the
// session index through the accounting hook, and syslog from `logger` is resolved to the
// subscriber who held the private IP at that moment, not before Start and not after Stop.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_NAS, generateSubscribers, seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { encodeRequest } from "@isp/network/radius/auth";
import { PacketCode } from "@isp/network/radius/codec";
import { createCollector, type Collector } from "../collector";
import { silentLogger } from "../log";
import { loopbackEndpoints } from "../test-collector";

const run = promisify(execFile);
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
const dataDir = mkdtempSync(join(tmpdir(), "collector-nat-"));

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 5 });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret: "collector-test-secret-0123456789",
    dataDir,
    nat: { syslog: { host: "127.0.0.1", udpPort: 0, tcpPort: 0 }, ingest: { flushIntervalMs: 20, logEveryMs: 0 } },
    log: silentLogger,
  });
  await collector.start();
});

afterAll(async () => {
  await collector?.stop();
  await pool?.end();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function accounting(identifier: number, attributes: [string, string | number][]): Promise<boolean> {
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  try {
    const answered = new Promise<boolean>((resolve) => {
      sock.once("message", () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    sock.send(encodeRequest({ code: PacketCode.AccountingRequest, identifier, secret: DEMO_NAS.secret, attributes }).raw, collector.ports.acct, "127.0.0.1");
    return await answered;
  } finally {
    sock.close();
  }
}

async function syslog(message: string): Promise<void> {
  const file = join(dataDir, `m-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(file, `${message}\n`);
  const port = collector.internals.nat!.internals.listener!.ports.udp!;
  await run("logger", ["--server", "127.0.0.1", "--port", String(port), "--udp", "--rfc5424", "--tag", "router", "-f", file]);
}

const line = (port: number) =>
  `srcnat: in:bridge-cgnat out:ether1, connection-state:new proto TCP (SYN), 10.77.0.5:${port}->1.1.1.1:443, NAT (10.77.0.5:${port}->203.0.113.50:${port})->1.1.1.1:443, len 60`;

async function natRow(port: number) {
  for (let i = 0; i < 200; i++) {
    const r = await pool.query<{ subscriber_id: number | null; acct_session_id: string | null; router_id: number | null }>(
      "SELECT subscriber_id, acct_session_id, router_id FROM nat_log WHERE private_port = $1",
      [port],
    );
    if (r.rows[0]) return r.rows[0];
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`no nat_log row for port ${port}`);
}

describe("NAT ingest in the collector", () => {
  it("resolves the subscriber from the accounting path, only between Start and Stop", async () => {
    const user = generateSubscribers(5)[2]!.pppoeUsername;
    const subscriberId = (await pool.query<{ id: number }>("SELECT id FROM subscribers WHERE pppoe_username = $1", [user])).rows[0]!.id;
    const routerId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE ip_address = '127.0.0.1'")).rows[0]!.id;

    await syslog(line(1001)); // before the session exists
    expect((await natRow(1001)).subscriber_id).toBeNull();

    const base: [string, string | number][] = [["User-Name", user], ["Acct-Session-Id", "NAT-S1"], ["Framed-IP-Address", "10.77.0.5"]];
    expect(await accounting(1, [["Acct-Status-Type", "Start"], ...base])).toBe(true);
    // The hook indexed it (no database look-up needed for the next line).
    expect(collector.counters.nat?.indexedIps).toBeGreaterThanOrEqual(1);
    await syslog(line(1002));
    expect(await natRow(1002)).toEqual({ subscriber_id: subscriberId, acct_session_id: "NAT-S1", router_id: routerId });

    expect(await accounting(2, [["Acct-Status-Type", "Stop"], ["Acct-Session-Time", 30], ...base])).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    await syslog(line(1003)); // after Stop
    expect(await natRow(1003)).toEqual({ subscriber_id: null, acct_session_id: null, router_id: routerId });

    const c = collector.counters.nat!;
    expect(c).toMatchObject({ received: 3, stored: 3, quarantined: 0, dropped: 0 });
    expect(c.listener.udpDatagrams).toBe(3);
  });
});
