// authLog.* against a real, migrated and seeded PostgreSQL (TEST_DATABASE_URL): rows are
// written the way the collector writes them (@isp/db/auth-log insertAuthLogColumns), the
// procedures only read. Role gates, dealer scope (another dealer's subscriber is NOT_FOUND
// exactly like a missing one), filters and keyset paging through tRPC.
import { insertAuthLog, type AuthLogRow } from "@isp/db/auth-log";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorRoles, type OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let pool: pg.Pool;
let ownDealerId: number;
let own: { id: number; username: string };
let other: { id: number; username: string };
let routerId: number;
let routerName: string;

const now = Date.now();
const ago = (s: number) => new Date(now - s * 1000);

function callerAs(role: OperatorRole | null, dealerId: number | null = null) {
  const operator = role ? { id: 1, username: role, name: role, role, dealerId } : null;
  return createCaller({ operator, db: () => tdb.prisma, pg: () => pool });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

const row = (over: Partial<AuthLogRow>): AuthLogRow => ({
  time: ago(60),
  routerId,
  nasIp: "127.0.0.1",
  username: "nobody",
  subscriberId: null,
  callingStationId: "aa:bb:cc:00:00:01",
  method: "pap",
  result: "reject",
  reason: "wrong_password",
  reply: null,
  ...over,
});

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 30 });
  pool = new pg.Pool({ connectionString: tdb.url, max: 2 });
  const dealer = await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "dealer" } });
  ownDealerId = dealer.dealerId!;
  const o = await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: ownDealerId }, orderBy: { id: "asc" } });
  const x = await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: { not: ownDealerId, gt: 0 } }, orderBy: { id: "asc" } });
  own = { id: o.id, username: o.pppoeUsername };
  other = { id: x.id, username: x.pppoeUsername };
  await tdb.prisma.subscriber.update({ where: { id: own.id }, data: { boundMac: "aa:bb:cc:00:00:99" } });
  const r = await tdb.prisma.router.findFirstOrThrow({ orderBy: { id: "asc" } });
  routerId = r.id;
  routerName = r.name;
  const rows: AuthLogRow[] = [
    // Before the account existed: the user name only, no subscriber id.
    row({ time: ago(3 * 86_400), username: own.username, reason: "unknown_user" }),
    row({ time: ago(600), username: own.username, subscriberId: own.id, reason: "mac_mismatch", callingStationId: "aa:bb:cc:00:00:01" }),
    row({ time: ago(300), username: own.username, subscriberId: own.id, reason: "wrong_password" }),
    row({ time: ago(120), username: own.username, subscriberId: own.id, result: "accept", reason: "ok", reply: "service 2M/8M ip=100.64.0.9" }),
    // Older than the panel's 30 days.
    row({ time: ago(40 * 86_400), username: own.username, subscriberId: own.id }),
    row({ time: ago(200), username: other.username, subscriberId: other.id }),
  ];
  // 130 more for the NOC page's paging, from 10 s to 140 s ago, some sharing a time.
  for (let i = 0; i < 130; i++) {
    rows.push(row({ time: ago(10 + Math.floor(i / 2)), username: `load${i}`, result: i % 5 === 0 ? "drop" : "reject", reason: i % 5 === 0 ? "bad_message_authenticator" : "unknown_user" }));
  }
  await insertAuthLog(pool, rows);
});

afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe("authLog.subscriber", () => {
  it("shows the subscriber's attempts newest first, with those under the user name before the account existed, within 30 days", async () => {
    const r = await callerAs("support").authLog.subscriber({ subscriberId: own.id });
    expect(r.username).toBe(own.username);
    expect(r.boundMac).toBe("aa:bb:cc:00:00:99");
    expect(r.attempts.map((a) => a.reason)).toEqual(["ok", "wrong_password", "mac_mismatch", "unknown_user"]);
    expect(r.attempts[0]).toMatchObject({ result: "accept", routerName, nasIp: "127.0.0.1", method: "pap", reply: "service 2M/8M ip=100.64.0.9" });
    expect(r.hasMore).toBe(false);
    const one = await callerAs("support").authLog.subscriber({ subscriberId: own.id, limit: 1 });
    expect(one.attempts).toHaveLength(1);
    expect(one.hasMore).toBe(true);
    await expectCode(callerAs("support").authLog.subscriber({ subscriberId: own.id, limit: 501 }), "BAD_REQUEST");
  });

  it("lets support, noc, admin, manager and the subscriber's own dealer read; not compliance or anonymous", async () => {
    for (const role of ["support", "noc", "admin", "manager"] as const) {
      expect((await callerAs(role).authLog.subscriber({ subscriberId: other.id })).attempts).toHaveLength(1);
    }
    expect((await callerAs("dealer", ownDealerId).authLog.subscriber({ subscriberId: own.id })).attempts).toHaveLength(4);
    await expectCode(callerAs("compliance").authLog.subscriber({ subscriberId: own.id }), "FORBIDDEN");
    await expectCode(callerAs(null).authLog.subscriber({ subscriberId: own.id }), "UNAUTHORIZED");
  });

  it("gives a dealer NOT_FOUND for another dealer's subscriber, the same as for a missing one", async () => {
    const missing = await callerAs("dealer", ownDealerId).authLog.subscriber({ subscriberId: 999_999 }).catch((e: unknown) => e);
    const foreign = await callerAs("dealer", ownDealerId).authLog.subscriber({ subscriberId: other.id }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TRPCError);
    expect(foreign).toBeInstanceOf(TRPCError);
    expect({ code: (foreign as TRPCError).code, message: (foreign as TRPCError).message }).toEqual({
      code: (missing as TRPCError).code,
      message: (missing as TRPCError).message,
    });
    expect((foreign as TRPCError).code).toBe("NOT_FOUND");
    // A dealer operator without a dealer row sees nothing.
    await expectCode(callerAs("dealer", null).authLog.subscriber({ subscriberId: own.id }), "NOT_FOUND");
  });
});

describe("authLog.list / summary / routers", () => {
  it("is for noc, admin and support only", async () => {
    for (const role of operatorRoles) {
      const allowed = ["noc", "admin", "support"].includes(role);
      const c = callerAs(role, role === "dealer" ? ownDealerId : null);
      if (allowed) {
        await expect(c.authLog.list({})).resolves.toBeDefined();
        await expect(c.authLog.summary()).resolves.toBeDefined();
        await expect(c.authLog.routers()).resolves.toBeDefined();
      } else {
        await expectCode(c.authLog.list({}), "FORBIDDEN");
        await expectCode(c.authLog.summary(), "FORBIDDEN");
        await expectCode(c.authLog.routers(), "FORBIDDEN");
      }
    }
    await expectCode(callerAs(null).authLog.list({}), "UNAUTHORIZED");
  });

  it("pages all of the last hour with the cursor, without duplicates or gaps", async () => {
    const api = callerAs("noc");
    const seen: string[] = [];
    let cursor: { time: string; id: string } | null = null;
    let pages = 0;
    do {
      const p: Awaited<ReturnType<typeof api.authLog.list>> = await api.authLog.list({ limit: 25, cursor });
      expect(p.rows.length).toBeLessThanOrEqual(25);
      seen.push(...p.rows.map((r) => `${r.time}|${r.id}`));
      cursor = p.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    // 130 load rows + own 3 + other 1 inside the default hour; the 3-day and 40-day-old rows are not.
    expect(seen).toHaveLength(134);
    expect(new Set(seen).size).toBe(134);
    expect(pages).toBe(6);
    const all = await api.authLog.list({ limit: 200 });
    expect(all.rows.map((r) => `${r.time}|${r.id}`)).toEqual(seen);
    await expectCode(api.authLog.list({ limit: 201 }), "BAD_REQUEST");
    await expectCode(api.authLog.list({ cursor: { time: "2026-01-01", id: "(1,1)" } }), "BAD_REQUEST");
  });

  it("filters by router, result, reason, username prefix and since; the window is at most 7 days", async () => {
    const api = callerAs("support");
    const drops = await api.authLog.list({ result: "drop", limit: 200 });
    expect(drops.rows).toHaveLength(26);
    expect(drops.rows.every((r) => r.result === "drop" && r.reason === "bad_message_authenticator")).toBe(true);
    const wrong = await api.authLog.list({ result: "reject", reason: "wrong_password", limit: 200 });
    expect(wrong.rows.map((r) => r.username).sort()).toEqual([other.username, own.username].sort());
    expect((await api.authLog.list({ usernamePrefix: "load12", limit: 200 })).rows.map((r) => r.username).sort()).toEqual(
      ["load12", "load120", "load121", "load122", "load123", "load124", "load125", "load126", "load127", "load128", "load129"].sort(),
    );
    expect((await api.authLog.list({ routerId: routerId, limit: 200 })).rows).toHaveLength(134);
    expect((await api.authLog.list({ routerId: routerId + 1000, limit: 200 })).rows).toHaveLength(0);
    const week = await api.authLog.list({ since: ago(6 * 86_400).toISOString(), usernamePrefix: own.username, limit: 200 });
    expect(week.rows.map((r) => r.reason)).toEqual(["ok", "wrong_password", "mac_mismatch", "unknown_user"]);
    await expectCode(api.authLog.list({ since: ago(8 * 86_400).toISOString() }), "BAD_REQUEST");
    await expectCode(api.authLog.list({ reason: "x'; DROP TABLE auth_log" }), "BAD_REQUEST");
  });

  it("summarises the last 15 minutes per router and flags a router whose requests are all bad-authenticator drops", async () => {
    const s = await callerAs("noc").authLog.summary();
    expect(s.drops).toBe(26);
    expect(s.dropsByReason).toEqual({ bad_message_authenticator: 26 });
    expect(s.accepts).toBe(1);
    expect(s.rejectsByReason).toMatchObject({ unknown_user: 104, wrong_password: 2, mac_mismatch: 1 });
    expect(s.routers).toHaveLength(1);
    expect(s.routers[0]).toMatchObject({ routerId, routerName, wrongSecret: false });
    // A second NAS whose every request fails the signature check.
    const bad = await tdb.prisma.router.findFirstOrThrow({ where: { id: { not: routerId } }, orderBy: { id: "asc" } });
    await insertAuthLog(pool, [1, 2, 3].map((i) => row({ time: ago(i), routerId: bad.id, nasIp: bad.ipAddress, result: "drop", reason: "bad_message_authenticator" })));
    try {
      const s2 = await callerAs("noc").authLog.summary();
      expect(s2.routers.find((r) => r.routerId === bad.id)).toMatchObject({ routerName: bad.name, drops: 3, wrongSecret: true });
    } finally {
      await pool.query("DELETE FROM auth_log WHERE router_id = $1", [bad.id]);
    }
  });

  it("lists routers for the filter without their secrets", async () => {
    const routers = await callerAs("support").authLog.routers();
    expect(routers.length).toBeGreaterThan(0);
    expect(Object.keys(routers[0]!).sort()).toEqual(["id", "ipAddress", "name"]);
  });
});
