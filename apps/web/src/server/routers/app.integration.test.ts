// The tRPC procedures against a real, migrated and seeded PostgreSQL (TEST_DATABASE_URL).
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { TRPCError } from "@trpc/server";
import { jwtVerify } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "../../env";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let ownDealerId: number;
let ownSubscriber: number;
let otherSubscriber: number;
let onlineSubscriber: number;

function callerAs(role: OperatorRole | null, dealerId: number | null = null, id = 1) {
  const operator = role ? { id, username: role, name: role, role, dealerId } : null;
  return createCaller({ operator, db: () => tdb.prisma });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 60 });
  const dealer = await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "dealer" } });
  ownDealerId = dealer.dealerId!;
  ownSubscriber = (await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: ownDealerId }, orderBy: { id: "asc" } })).id;
  otherSubscriber = (await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: { not: ownDealerId, gt: 0 } }, orderBy: { id: "asc" } })).id;
  onlineSubscriber = ownSubscriber;
  const router = await tdb.prisma.router.findFirstOrThrow({ orderBy: { id: "asc" } });
  const now = new Date();
  await tdb.prisma.radiusSession.create({
    data: {
      routerId: router.id,
      acctSessionId: "it-0001",
      subscriberId: onlineSubscriber,
      username: "it-user",
      framedIp: "10.99.0.2",
      startedAt: new Date(now.getTime() - 60_000),
      lastUpdateAt: now,
      inputOctets: 9_007_199_254_740_993n, // beyond 2^53: must arrive as an exact string
      outputOctets: 5000n,
      inputBps: 1000n,
      outputBps: 8_000_000n,
    },
  });
}, 120_000);

afterAll(async () => {
  await tdb?.drop();
});

describe("auth bases", () => {
  it("refuses anonymous callers and wrong roles", async () => {
    await expectCode(callerAs(null).subscriber.search({ q: "", limit: 5 }), "UNAUTHORIZED");
    await expectCode(callerAs("dealer", 1).noc.snapshot(), "FORBIDDEN");
    await expectCode(callerAs("noc").subscriber.disconnect({ id: ownSubscriber }), "FORBIDDEN");
    await expectCode(callerAs("manager").subscriber.disconnect({ id: ownSubscriber }), "FORBIDDEN");
  });
});

describe("subscriber", () => {
  it("search is case-insensitive over account, name, phone, username and CNIC", async () => {
    const s = await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: otherSubscriber } });
    const api = callerAs("support");
    for (const q of [s.accountNo.toLowerCase(), s.name.toUpperCase(), s.phone, s.pppoeUsername, s.cnic]) {
      const rows = await api.subscriber.search({ q, limit: 50 });
      expect(rows.map((r) => r.id), q).toContain(otherSubscriber);
    }
    expect(await api.subscriber.search({ q: "", limit: 7 })).toHaveLength(7);
  });

  it("a dealer's search only ever returns their own subscribers", async () => {
    const rows = await callerAs("dealer", ownDealerId).subscriber.search({ q: "", limit: 50 });
    expect(rows.length).toBeGreaterThan(0);
    const ids = rows.map((r) => r.id);
    const owners = await tdb.prisma.subscriber.findMany({ where: { id: { in: ids } }, select: { dealerId: true } });
    expect(new Set(owners.map((o) => o.dealerId))).toEqual(new Set([ownDealerId]));
  });

  it("get returns the shaped profile with the live session, bigints as strings", async () => {
    const d = await callerAs("dealer", ownDealerId).subscriber.get({ id: onlineSubscriber });
    expect(d.plan.price).toMatch(/^Rs [\d,]+(\.\d\d)?$/);
    expect(d.session).toMatchObject({ acctSessionId: "it-0001", framedIp: "10.99.0.2", inputOctets: "9007199254740993", outputBps: "8000000" });
    expect(d.session?.rateLimit).toMatch(/^\d+[Mk]\/\d+[Mk]$/);
    expect(d.sessions).toHaveLength(1);
  });

  it("another dealer's subscriber is NOT_FOUND, exactly like a missing one", async () => {
    await expectCode(callerAs("dealer", ownDealerId).subscriber.get({ id: otherSubscriber }), "NOT_FOUND");
    await expectCode(callerAs("dealer", null).subscriber.get({ id: ownSubscriber }), "NOT_FOUND");
    await expectCode(callerAs("support").subscriber.get({ id: 9_999_999 }), "NOT_FOUND");
  });

  it("disconnect writes the outbox row and audit entry and notifies the collector", async () => {
    const listener = new pg.Client({ connectionString: tdb.url });
    await listener.connect();
    await listener.query("LISTEN enforcement");
    const notified = new Promise<string>((resolve) => listener.on("notification", (n) => resolve(n.payload ?? "")));
    const support = await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "support" } });
    const { actionId } = await callerAs("support", null, support.id).subscriber.disconnect({ id: onlineSubscriber, reason: "test" });
    expect(await notified).toBe(actionId);
    await listener.end();

    const row = await tdb.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(actionId) } });
    expect(row).toMatchObject({ kind: "disconnect", status: "pending", subscriberId: onlineSubscriber, acctSessionId: "it-0001", requestedById: support.id });
    const audit = await tdb.prisma.auditLog.count({ where: { entityType: "subscriber", entityId: String(onlineSubscriber), actor: "support" } });
    expect(audit).toBe(1);

    const status = await callerAs("support").enforcement.status({ actionId });
    expect(status).toMatchObject({ id: actionId, status: "pending", requestedBy: "support", totalLatencyMs: null });
    // Scoped like subscribers: the other dealer cannot read it.
    const detail = await callerAs("support").subscriber.get({ id: onlineSubscriber });
    expect(detail.actions[0]?.id).toBe(actionId);
  });
});

describe("noc.snapshot", () => {
  it("has the noc:state shape with per-router totals", async () => {
    const snap = await callerAs("noc").noc.snapshot();
    expect(snap.online).toBe(1);
    expect(snap.routers.reduce((a, r) => a + r.online, 0)).toBe(1);
    const busy = snap.routers.find((r) => r.online === 1);
    expect(busy).toMatchObject({ outputBps: "8000000", inputBps: "1000" });
    expect(snap.newest[0]).toMatchObject({ subscriberId: onlineSubscriber, framedIp: "10.99.0.2" });
  });
});

describe("live.token", () => {
  it("is an HS256 JWT for the collector with sub, role, dealerId and a bounded lifetime", async () => {
    const { token, url } = await callerAs("dealer", ownDealerId, 42).live.token();
    expect(url).toBe(env.livePublicUrl);
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(env.authSecret));
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toMatchObject({ sub: "42", role: "dealer", dealerId: ownDealerId });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(12 * 3600);
  });
});
