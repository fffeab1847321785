// The whole collector on ephemeral ports against a real PostgreSQL: RADIUS from Debian's
// radclient (interop) and from hand-built packets (bad input).
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRequest } from "@isp/network/radius/auth";
import { decodePacket, PacketCode } from "@isp/network/radius/codec";
import { DEMO_NAS, DEMO_SUBSCRIBER, generateSubscribers, seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createCollector, type Collector } from "./collector";
import { silentLogger } from "./log";
import { loopbackEndpoints } from "./test-collector";

const run = promisify(execFile);
let db: TestDatabase;
let collector: Collector;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 50 });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret: "collector-test-secret-0123456789",
    subscriberChangesPollMs: 100,
    log: silentLogger,
  });
  await collector.start();
});

afterAll(async () => {
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

async function radclient(kind: "auth" | "acct", port: number, attrs: string, secret: string = DEMO_NAS.secret) {
  try {
    // The demo routers require Message-Authenticator (BlastRADIUS); radclient signs when asked.
    const signed = kind === "auth" ? `${attrs}, Message-Authenticator = 0x00` : attrs;
    const { stdout } = await run("sh", ["-c", `printf '%s\\n' "$ATTRS" | radclient -x -r 1 -t 2 127.0.0.1:${port} ${kind} "$SECRET"`], {
      env: { ...process.env, ATTRS: signed, SECRET: secret },
    });
    return stdout;
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? "") + String((err as Error).message);
  }
}

const seeded = generateSubscribers(50);
const passwordOf = (username: string): string => seeded.find((x) => x.pppoeUsername === username)!.pppoePassword;

const hasRadclient = await run("sh", ["-c", "command -v radclient"]).then(() => true, () => false);

describe.skipIf(!hasRadclient)("interop with FreeRADIUS radclient", () => {
  it("PAP Access-Request for a seeded subscriber -> Access-Accept with Mikrotik-Rate-Limit", async () => {
    const out = await radclient("auth", collector.ports.auth, `User-Name = "${DEMO_SUBSCRIBER.username}", User-Password = "${DEMO_SUBSCRIBER.password}", NAS-IP-Address = 127.0.0.1`);
    expect(out).toMatch(/Received Access-Accept/);
    expect(out).toMatch(/Mikrotik-Rate-Limit = "[0-9]+[kM]\/[0-9]+[kM]"/);
    expect(out).toMatch(/Acct-Interim-Interval = 60/);
  });

  it("CHAP (radclient computes CHAP-Password from the clear text) -> Access-Accept; wrong CHAP -> Reject", async () => {
    const ok = await radclient("auth", collector.ports.auth, `User-Name = "${DEMO_SUBSCRIBER.username}", CHAP-Password = "${DEMO_SUBSCRIBER.password}"`);
    expect(ok).toMatch(/Received Access-Accept/);
    const bad = await radclient("auth", collector.ports.auth, `User-Name = "${DEMO_SUBSCRIBER.username}", CHAP-Password = "nope"`);
    expect(bad).toMatch(/Received Access-Reject/);
  });

  it("wrong password -> Access-Reject with the reason", async () => {
    const before = collector.counters.rejectsByReason.wrong_password ?? 0;
    const out = await radclient("auth", collector.ports.auth, `User-Name = "${DEMO_SUBSCRIBER.username}", User-Password = "not-it"`);
    expect(out).toMatch(/Received Access-Reject/);
    expect(out).toMatch(/Reply-Message = "Wrong password"/);
    expect(collector.counters.rejectsByReason.wrong_password).toBe(before + 1);
  });

  it("suspended subscriber -> Access-Reject 'Account suspended'", async () => {
    // Passwords are encrypted at rest: take the clear text from the seed's generator.
    const row = (await pool.query<{ u: string }>("SELECT pppoe_username AS u FROM subscribers WHERE status = 'suspended' LIMIT 1")).rows[0];
    const s = row && { u: row.u, p: passwordOf(row.u) };
    if (!s) return; // the seed of 50 may hold none
    const out = await radclient("auth", collector.ports.auth, `User-Name = "${s.u}", User-Password = "${s.p}"`);
    expect(out).toMatch(/Reply-Message = "Account suspended"/);
  });

  it("a subscriber suspended in the database is rejected within the cache poll", async () => {
    const row = (await pool.query<{ id: number; u: string }>("SELECT id, pppoe_username AS u FROM subscribers WHERE status = 'active' ORDER BY id DESC LIMIT 1")).rows[0]!;
    const s = { ...row, p: passwordOf(row.u) };
    const attrs = `User-Name = "${s.u}", User-Password = "${s.p}"`;
    expect(await radclient("auth", collector.ports.auth, attrs)).toMatch(/Received Access-Accept/);
    // Through Prisma, as the web app does (it bumps updated_at).
    await db.prisma.subscriber.update({ where: { id: s.id }, data: { status: "suspended" } });
    await new Promise((r) => setTimeout(r, 400));
    const out = await radclient("auth", collector.ports.auth, attrs);
    expect(out).toMatch(/Received Access-Reject/);
    expect(out).toMatch(/Reply-Message = "Account suspended"/);
  });

  it("Accounting-Request -> Accounting-Response, and the session is stored", async () => {
    const out = await radclient(
      "acct",
      collector.ports.acct,
      `Acct-Status-Type = Start, User-Name = "${DEMO_SUBSCRIBER.username}", Acct-Session-Id = "RC-1", Framed-IP-Address = 10.1.2.3, NAS-IP-Address = 127.0.0.1`,
    );
    expect(out).toMatch(/Received Accounting-Response/);
    const r = await pool.query("SELECT s.status::text, host(s.framed_ip) AS ip, sub.pppoe_username FROM radius_sessions s JOIN subscribers sub ON sub.id = s.subscriber_id WHERE acct_session_id = 'RC-1'");
    expect(r.rows).toEqual([{ status: "active", ip: "10.1.2.3", pppoe_username: DEMO_SUBSCRIBER.username }]);
  });
});

describe("bad input is a counted drop, never a crash", () => {
  async function exchange(port: number, packets: Buffer[], waitMs = 1500): Promise<Buffer[]> {
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const replies: Buffer[] = [];
    sock.on("message", (m) => replies.push(m));
    for (const p of packets) sock.send(p, port, "127.0.0.1");
    await new Promise((r) => setTimeout(r, waitMs));
    sock.close();
    return replies;
  }

  it("malformed datagrams and a wrong secret are dropped and counted; a good request is still answered", async () => {
    const ep = collector.internals.authEndpoint!;
    const malformedBefore = ep.counters.dropMalformed;
    const badAuthBefore = ep.counters.dropBadAuthenticator;
    const droppedBefore = collector.counters.dropped;
    const junk = [Buffer.from([1, 2]), Buffer.alloc(20, 0xff), Buffer.from("definitely not radius at all, just text")];
    const wrongSecret = encodeRequest({
      code: PacketCode.AccessRequest,
      identifier: 7,
      secret: "wrong-secret",
      attributes: [["User-Name", DEMO_SUBSCRIBER.username], ["User-Password", DEMO_SUBSCRIBER.password]],
      messageAuthenticator: true,
    }).raw;
    const good = encodeRequest({
      code: PacketCode.AccessRequest,
      identifier: 8,
      secret: DEMO_NAS.secret,
      // Not the demo subscriber: its RC-1 session above is open (simultaneous-use limit 1).
      attributes: [["User-Name", seeded[1]!.pppoeUsername], ["User-Password", seeded[1]!.pppoePassword]],
      messageAuthenticator: true,
    }).raw;
    const replies = await exchange(collector.ports.auth, [...junk, wrongSecret, good]);
    expect(replies).toHaveLength(1);
    const reply = decodePacket(replies[0]!);
    expect(reply.code).toBe(PacketCode.AccessAccept);
    expect(reply.identifier).toBe(8);
    expect(ep.counters.dropMalformed - malformedBefore).toBe(3);
    expect(ep.counters.dropBadAuthenticator - badAuthBefore).toBe(1);
    expect(collector.counters.dropped - droppedBefore).toBe(4);
  });

  it("an unknown NAS is dropped and counted", async () => {
    const ep = collector.internals.acctEndpoint!;
    const before = ep.counters.dropUnknownNas;
    // 127.0.0.9 is not in the routers table.
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.9", () => r()));
    const replies: Buffer[] = [];
    sock.on("message", (m) => replies.push(m));
    const pkt = encodeRequest({
      code: PacketCode.AccountingRequest,
      identifier: 1,
      secret: DEMO_NAS.secret,
      attributes: [["Acct-Status-Type", "Start"], ["User-Name", "x"], ["Acct-Session-Id", "U-1"]],
    }).raw;
    sock.send(pkt, collector.ports.acct, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 500));
    sock.close();
    expect(replies).toHaveLength(0);
    expect(ep.counters.dropUnknownNas - before).toBe(1);
  });
});

describe("backpressure: a blocked database spools; a full spool means no ACK, and the retransmit is stored", () => {
  it("acknowledges from the spool while PostgreSQL is blocked, refuses beyond the spool bound, then stores everything once", async () => {
    const tight = createCollector({
      ...loopbackEndpoints(db.url),
      authSecret: "collector-test-secret-0123456789",
      dataDir: mkdtempSync(join(tmpdir(), "collector-bp-")),
      // Room for a few records only (a binary spool frame of these Starts is ~70 bytes).
      spoolMaxBytes: 400,
      slowWriteMs: 100,
      stopDeadlineMs: 3000,
      log: silentLogger,
    });
    await tight.start();
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    const sock = createSocket("udp4");
    try {
      await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
      const answered = new Set<number>();
      sock.on("message", (m) => answered.add(decodePacket(m).identifier));
      const packets = Array.from({ length: 10 }, (_, i) =>
        encodeRequest({
          code: PacketCode.AccountingRequest,
          identifier: 100 + i,
          secret: DEMO_NAS.secret,
          attributes: [["Acct-Status-Type", "Start"], ["User-Name", DEMO_SUBSCRIBER.username], ["Acct-Session-Id", `BP-${i}`]],
        }).raw,
      );
      // Inserts into the time-series table wait behind this lock: every direct write is slow.
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE accounting_records IN EXCLUSIVE MODE");
      for (const p of packets) sock.send(p, tight.ports.acct, "127.0.0.1");
      for (let waited = 0; tight.counters.acctResponses + tight.counters.acctNotAcked < 10 && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 100));
      const acct = tight.internals.acct!;
      // Durable on disk, so acknowledged, although nothing has reached PostgreSQL.
      expect(answered.size).toBe(acct.counters.spooled);
      expect(answered.size).toBeGreaterThan(0);
      expect(answered.size).toBeLessThan(10);
      expect(tight.counters.acctNotAcked).toBe(10 - answered.size);
      expect(acct.counters.spoolFull).toBe(10 - answered.size);
      await locker.query("COMMIT");
      // The NAS retransmits what was not answered until it is.
      for (let round = 0; round < 20 && answered.size < 10; round++) {
        await new Promise((r) => setTimeout(r, 300));
        for (const [i, p] of packets.entries()) if (!answered.has(100 + i)) sock.send(p, tight.ports.acct, "127.0.0.1");
      }
      expect(answered.size).toBe(10);
      expect(await acct.drain(5000)).toBe(true);
      const stored = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE acct_session_id LIKE 'BP-%'");
      expect(stored.rows[0]!.n).toBe(10);
      const rows = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM accounting_records WHERE acct_session_id LIKE 'BP-%'");
      expect(rows.rows[0]!.n).toBe(10);
    } finally {
      sock.close();
      await locker.end();
      await tight.stop();
    }
  });
});
