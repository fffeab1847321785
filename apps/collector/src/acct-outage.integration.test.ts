// The database goes away in the middle of an accounting burst and comes back: every
// acknowledged record ends up in PostgreSQL exactly once (0 lost, 0 doubled). Uses an
// embedded PostgreSQL this test can stop and start (the shared test server cannot be).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma } from "@isp/db/client";
import { startEmbeddedPostgres, type EmbeddedServer } from "@isp/db/embedded";
import { migrate } from "@isp/db/migrate";
import { DEMO_NAS, seed } from "@isp/db/seed";
import { RadiusClient } from "@isp/network/radius/client";
import { freeTcpPort, sendAcct, sessionRecords, sleep } from "./acct-test-util";
import { createCollector, type Collector } from "./collector";
import { silentLogger } from "./log";
import { loopbackEndpoints } from "./test-collector";

const parent = mkdtempSync(join(tmpdir(), "acct-outage-"));
const pgDir = join(parent, "pg");
let port: number;
let server: EmbeddedServer | null = null;
let collector: Collector;

beforeAll(async () => {
  port = await freeTcpPort();
  server = await startEmbeddedPostgres({ dataDir: pgDir, port });
  await migrate(server.url);
  const prisma = createPrisma(server.url);
  try {
    await seed(prisma, { subscribers: 20 });
  } finally {
    await prisma.$disconnect();
  }
  collector = createCollector({
    ...loopbackEndpoints(server.url),
    authSecret: "collector-test-secret-0123456789",
    dataDir: join(parent, "collector"),
    poolMax: 4,
    stopDeadlineMs: 3000,
    log: silentLogger,
  });
  await collector.start();
}, 120_000);

afterAll(async () => {
  await collector?.stop();
  await server?.stop();
  rmSync(parent, { recursive: true, force: true });
}, 60_000);

describe("PostgreSQL stopped and started during an accounting burst", () => {
  it("acknowledges every record and stores each exactly once", { timeout: 90_000 }, async () => {
    const url = server!.url;
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    const users = (await probe.query<{ u: string }>("SELECT pppoe_username AS u FROM subscribers ORDER BY id LIMIT 20")).rows.map((r) => r.u);
    await probe.end();

    // 200 sessions x (Start + 8 Interim + Stop) = 2,000 records; each session's records in order.
    const sessions = Array.from({ length: 200 }, (_, i) => sessionRecords(`OUT-${i}`, users[i % users.length]!, 8, 1_000_000n + BigInt(i)));
    const client = new RadiusClient();
    let acked = 0;
    let lost = 0;
    // Three phases so the outage falls inside the burst on a slow or busy machine too:
    // records 0-2 of each session (PostgreSQL goes down while they are in flight), 3-6
    // (sent while it is down; it comes back half way), 7-9 (after it is back).
    let openPhase2!: () => void;
    let openPhase3!: () => void;
    const phase2 = new Promise<void>((r) => (openPhase2 = r));
    const phase3 = new Promise<void>((r) => (openPhase3 = r));
    const burst = Promise.all(
      sessions.map(async (records) => {
        for (const [i, spec] of records.entries()) {
          if (i === 3) await phase2;
          if (i === 7) await phase3;
          if (await sendAcct(client, collector.ports.acct, DEMO_NAS.secret, spec, { timeoutMs: 1000, retries: 10 })) acked++;
          else lost++;
          await sleep(5);
        }
      }),
    );
    while (acked < 300) await sleep(5);
    await server!.stop();
    server = null;
    openPhase2();
    while (acked < 1000) await sleep(5);
    const restarted = startEmbeddedPostgres({ dataDir: pgDir, port });
    while (acked < 1400) await sleep(5);
    server = await restarted;
    openPhase3();
    await burst;
    client.close();
    expect(lost).toBe(0);
    expect(acked).toBe(2000);
    const acct = collector.internals.acct!;
    expect(acct.counters.spooled).toBeGreaterThan(0);
    expect(await acct.drain(30_000)).toBe(true);
    expect(acct.counters.direct + acct.counters.spooled).toBe(2000);

    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    try {
      const rows = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM accounting_records WHERE acct_session_id LIKE 'OUT-%'");
      expect(rows.rows[0]!.n).toBe(2000);
      const s = await c.query<{ n: number; stopped: number; out: string }>(
        "SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'stopped')::int AS stopped, sum(output_octets)::text AS out FROM radius_sessions WHERE acct_session_id LIKE 'OUT-%'",
      );
      const wantOut = sessions.reduce((sum, r) => sum + r.at(-1)!.outputOctets!, 0n);
      expect(s.rows[0]).toEqual({ n: 200, stopped: 200, out: wantOut.toString() });
      // Usage deltas add up to the final totals: nothing counted twice, nothing negative.
      const u = await c.query<{ out: string }>("SELECT sum(output_octets)::text AS out FROM subscriber_usage");
      expect(u.rows[0]!.out).toBe(wantOut.toString());
    } finally {
      await c.end();
    }
  });
});
