// Accounting end to end over real UDP against a real PostgreSQL: a collector restart in
// the middle of a burst (with records in the spool and transactions stuck in flight),
// duplicates and resends, gigawords and Acct-Delay-Time, Accounting-On, the stale sweep.
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_NAS, seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { encodeRequest } from "@isp/network/radius/auth";
import { decodePacket, PacketCode } from "@isp/network/radius/codec";
import { RadiusClient } from "@isp/network/radius/client";
import { acctAttributes, sendAcct, sessionRecords, sleep } from "./acct-test-util";
import { createCollector, type Collector, type CollectorConfig } from "./collector";
import { silentLogger } from "./log";
import { createLiveQueries } from "./services/live-queries";

let db: TestDatabase;
let pool: pg.Pool;
let users: string[];
const dataDir = mkdtempSync(join(tmpdir(), "acct-durability-"));
let collector: Collector | null = null;

const config = (acctPort: number): CollectorConfig => ({
  databaseUrl: db.url,
  radiusHost: "127.0.0.1",
  authPort: 0,
  acctPort,
  liveHost: "127.0.0.1",
  livePort: 0,
  liveCorsOrigin: "http://localhost:3000",
  authSecret: "collector-test-secret-0123456789",
  dataDir,
  slowWriteMs: 100,
  stopDeadlineMs: 1500,
  staleAfterS: 120,
  staleSweepMs: 200,
  log: silentLogger,
});

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 20 });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  users = (await pool.query<{ u: string }>("SELECT pppoe_username AS u FROM subscribers ORDER BY id LIMIT 20")).rows.map((r) => r.u);
});

afterAll(async () => {
  await collector?.stop();
  await pool?.end();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const one = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await pool.query<T>(sql, params)).rows[0]!;

describe("accounting durability", () => {
  it("a collector restart mid-burst, with records spooled and transactions stuck, loses nothing and doubles nothing", { timeout: 30_000 }, async () => {
    const first = createCollector(config(0));
    const ports = await first.start();
    collector = first;
    // 100 sessions x (Start + 3 Interim + Stop) = 500 records.
    const sessions = Array.from({ length: 100 }, (_, i) => sessionRecords(`RS-${i}`, users[i % users.length]!, 3, 5_000_000n + BigInt(i)));
    const client = new RadiusClient();
    let acked = 0;
    let lost = 0;
    const burst = Promise.all(
      sessions.map(async (records) => {
        for (const spec of records) {
          if (await sendAcct(client, ports.acct, DEMO_NAS.secret, spec, { timeoutMs: 400, retries: 30 })) acked++;
          else lost++;
          await sleep(10);
        }
      }),
    );
    while (acked < 150) await sleep(5);
    // PostgreSQL stops taking accounting rows: direct writes are slow, records are spooled.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE accounting_records IN EXCLUSIVE MODE");
    const atLock = acked;
    while (acked < atLock + 150) await sleep(5);
    expect(first.internals.spool!.pendingRecords).toBeGreaterThan(0);
    // "Crash": stop while transactions are stuck behind the lock (the stop deadline cuts them off).
    await first.stop();
    collector = null;
    // The stuck transactions commit now, so some records are in the database AND the spool.
    await locker.query("COMMIT");
    await locker.end();
    const second = createCollector(config(ports.acct));
    await second.start();
    collector = second;
    await burst;
    client.close();
    expect(lost).toBe(0);
    expect(acked).toBe(500);
    expect(await second.internals.acct!.drain(10_000)).toBe(true);
    expect(second.internals.acct!.counters.replayed).toBeGreaterThan(0);

    const rows = await one<{ n: number }>("SELECT count(*)::int AS n FROM accounting_records WHERE acct_session_id LIKE 'RS-%'");
    expect(rows.n).toBe(500);
    const wantOut = sessions.reduce((sum, r) => sum + r.at(-1)!.outputOctets!, 0n);
    const s = await one<{ n: number; stopped: number; out: string }>(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'stopped')::int AS stopped, sum(output_octets)::text AS out FROM radius_sessions WHERE acct_session_id LIKE 'RS-%'",
    );
    expect(s).toEqual({ n: 100, stopped: 100, out: wantOut.toString() });
    const u = await one<{ out: string }>(
      "SELECT sum(u.output_octets)::text AS out FROM subscriber_usage u WHERE u.time >= (SELECT min(started_at) FROM radius_sessions WHERE acct_session_id LIKE 'RS-%')",
    );
    expect(u.out).toBe(wantOut.toString());
  });

  it("a retransmit gets the cached reply; a resend with a new Identifier and Acct-Delay-Time changes nothing", async () => {
    const c = collector!;
    const username = users[0]!;
    const client = new RadiusClient();
    try {
      expect(await sendAcct(client, c.ports.acct, DEMO_NAS.secret, { status: "Start", sessionId: "DUP-1", username, sessionTimeS: 0 })).toBe(true);
      const sock = createSocket("udp4");
      await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
      const replies: number[] = [];
      sock.on("message", (m) => replies.push(decodePacket(m).identifier));
      const spec = { status: "Interim-Update" as const, sessionId: "DUP-1", username, sessionTimeS: 60, inputOctets: 1000n, outputOctets: 9000n };
      const pkt = encodeRequest({ code: PacketCode.AccountingRequest, identifier: 42, secret: DEMO_NAS.secret, attributes: acctAttributes(spec) }).raw;
      const ep = c.internals.acctEndpoint!;
      const resentBefore = ep.counters.duplicatesResent;
      sock.send(pkt, c.ports.acct, "127.0.0.1");
      for (let w = 0; replies.length < 1 && w < 3000; w += 20) await sleep(20);
      sock.send(pkt, c.ports.acct, "127.0.0.1"); // same source, port, Identifier, authenticator
      const resend = encodeRequest({ code: PacketCode.AccountingRequest, identifier: 43, secret: DEMO_NAS.secret, attributes: acctAttributes({ ...spec, delayTimeS: 5 }) }).raw;
      sock.send(resend, c.ports.acct, "127.0.0.1");
      for (let w = 0; replies.length < 3 && w < 3000; w += 20) await sleep(20);
      sock.close();
      expect(replies.sort()).toEqual([42, 42, 43]);
      expect(ep.counters.duplicatesResent - resentBefore).toBe(1);
      // Acknowledged may mean spooled (a busy machine makes direct writes "slow"): let it land.
      expect(await c.internals.acct!.drain(10_000)).toBe(true);
      const rows = await one<{ n: number }>("SELECT count(*)::int AS n FROM accounting_records WHERE acct_session_id = 'DUP-1' AND status_type = 3");
      expect(rows.n).toBe(1);
      const sess = await one<{ out: string; subscriber_id: number }>("SELECT output_octets::text AS out, subscriber_id FROM radius_sessions WHERE acct_session_id = 'DUP-1'");
      expect(sess.out).toBe("9000");
      const usage = await one<{ out: string }>(
        "SELECT sum(output_octets)::text AS out FROM subscriber_usage WHERE subscriber_id = $1 AND time >= (SELECT started_at FROM radius_sessions WHERE acct_session_id = 'DUP-1')",
        [sess.subscriber_id],
      );
      expect(usage.out).toBe("9000");
    } finally {
      client.close();
    }
  });

  it("gigawords and Acct-Delay-Time end to end; a late interim never lowers totals", async () => {
    const c = collector!;
    const client = new RadiusClient();
    try {
      const username = users[1]!;
      const big = 3n * 2n ** 32n + 5n;
      expect(await sendAcct(client, c.ports.acct, DEMO_NAS.secret, { status: "Start", sessionId: "GIGA-1", username, sessionTimeS: 0 })).toBe(true);
      const sentAt = Date.now();
      expect(await sendAcct(client, c.ports.acct, DEMO_NAS.secret, { status: "Interim-Update", sessionId: "GIGA-1", username, sessionTimeS: 600, inputOctets: 7n, outputOctets: big, delayTimeS: 30 })).toBe(true);
      expect(await sendAcct(client, c.ports.acct, DEMO_NAS.secret, { status: "Interim-Update", sessionId: "GIGA-1", username, sessionTimeS: 300, inputOctets: 3n, outputOctets: 2n ** 32n, delayTimeS: 330 })).toBe(true);
      expect(await c.internals.acct!.drain(10_000)).toBe(true);
      const s = await one<{ out: string; session_time_s: number }>("SELECT output_octets::text AS out, session_time_s FROM radius_sessions WHERE acct_session_id = 'GIGA-1'");
      expect(s).toEqual({ out: big.toString(), session_time_s: 600 });
      const rec = await one<{ t: Date; delay: number; out: string }>(
        "SELECT time AS t, delay_time_s AS delay, output_octets::text AS out FROM accounting_records WHERE acct_session_id = 'GIGA-1' AND status_type = 3",
      );
      expect(rec.out).toBe(big.toString());
      expect(rec.delay).toBe(30);
      expect(Math.abs(rec.t.getTime() - (sentAt - 30_000))).toBeLessThan(2000);
    } finally {
      client.close();
    }
  });

  it("the stale sweep marks a silent session stale, and the live wall counts it", async () => {
    const before = (await createLiveQueries({ pool, counters: () => ({ authAccepts: 0, authRejects: 0, dropped: 0 }), routerLastSeen: () => undefined, rateLimit: () => "" }).nocState()).stale;
    await pool.query("UPDATE radius_sessions SET last_update_at = now() - interval '10 minutes' WHERE acct_session_id = 'GIGA-1'");
    for (let w = 0; w < 3000; w += 50) {
      if ((await one<{ status: string }>("SELECT status::text FROM radius_sessions WHERE acct_session_id = 'GIGA-1'")).status === "stale") break;
      await sleep(50);
    }
    expect((await one<{ status: string }>("SELECT status::text FROM radius_sessions WHERE acct_session_id = 'GIGA-1'")).status).toBe("stale");
    const after = (await createLiveQueries({ pool, counters: () => ({ authAccepts: 0, authRejects: 0, dropped: 0 }), routerLastSeen: () => undefined, rateLimit: () => "" }).nocState()).stale;
    expect(after).toBe((before ?? 0) + 1);
  });

  it("Accounting-On closes every open session of that router with a Stop row", async () => {
    const c = collector!;
    const client = new RadiusClient();
    try {
      const open = await one<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status IN ('active', 'stale') AND router_id = (SELECT id FROM routers WHERE host(ip_address) = '127.0.0.1' LIMIT 1)");
      expect(open.n).toBeGreaterThanOrEqual(2); // DUP-1 active, GIGA-1 stale
      expect(await sendAcct(client, c.ports.acct, DEMO_NAS.secret, { status: "Accounting-On" })).toBe(true);
      expect(await c.internals.acct!.drain(10_000)).toBe(true);
      const after = await one<{ open: number; rebooted: number }>(
        "SELECT count(*) FILTER (WHERE status IN ('active', 'stale'))::int AS open, count(*) FILTER (WHERE terminate_cause = 'NAS-Reboot')::int AS rebooted FROM radius_sessions WHERE acct_session_id IN ('DUP-1', 'GIGA-1')",
      );
      expect(after).toEqual({ open: 0, rebooted: 2 });
      const stops = await one<{ n: number }>("SELECT count(*)::int AS n FROM accounting_records WHERE acct_session_id IN ('DUP-1', 'GIGA-1') AND status_type = 2 AND terminate_cause = 'NAS-Reboot'");
      expect(stops.n).toBe(2);
    } finally {
      client.close();
    }
  });
});
