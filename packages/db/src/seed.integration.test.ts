import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_NAS, DEMO_OPERATORS, DEMO_SUBSCRIBER, generateSubscribers, seed } from "./seed";
import { createTestDatabase, type TestDatabase } from "./testing";

describe("seed", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("generates the same realistic subscribers every time", () => {
    const a = generateSubscribers(2000);
    expect(generateSubscribers(2000)).toEqual(a);
    expect(new Set(a.map((s) => s.pppoeUsername)).size).toBe(2000);
    for (const s of a) {
      expect(s.phone).toMatch(/^03\d\d-\d{7}$/);
      expect(s.cnic).toMatch(/^\d{5}-\d{7}-\d$/);
    }
    expect(new Set(a.map((s) => s.city)).size).toBeGreaterThanOrEqual(5);
    expect(a.filter((s) => s.status === "suspended").length).toBeGreaterThan(10);
    expect(a.filter((s) => s.staticIp).length).toBeGreaterThan(5);
  });

  it("seeds 2,000 subscribers quickly, and a second run changes nothing", async () => {
    const started = performance.now();
    expect(await seed(db.prisma)).toEqual({ seeded: true, subscribers: 2000 });
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(await seed(db.prisma)).toEqual({ seeded: false, subscribers: 2000 });
    const p = db.prisma;
    expect(await p.subscriber.count()).toBe(2000);
    expect(await p.router.count()).toBe(3);
    expect(await p.plan.count()).toBe(4);
    expect(await p.dealer.count()).toBe(2);
    const first = await p.subscriber.findUniqueOrThrow({ where: { accountNo: "ACC-100001" } });
    expect(first).toMatchObject({ status: "active", pppoeUsername: DEMO_SUBSCRIBER.username, pppoePassword: DEMO_SUBSCRIBER.password });
    const nas = await p.router.findUniqueOrThrow({ where: { ipAddress: DEMO_NAS.ip } });
    expect(nas).toMatchObject({ name: "KHI-BNG-01", radiusSecret: DEMO_NAS.secret, coaPort: 3799 });
    const basic = await p.plan.findUniqueOrThrow({ where: { code: "BASIC-8" } });
    expect(basic).toMatchObject({ downloadKbps: 8192, uploadKbps: 2048, pricePaisa: 150_000, currency: "PKR" });
    const ops = await p.operator.findMany({ orderBy: { id: "asc" } });
    expect(ops.map((o) => o.role).sort()).toEqual(["admin", "compliance", "dealer", "manager", "noc", "support"]);
    expect(ops.find((o) => o.role === "dealer")?.dealerId).not.toBeNull();
    const admin = ops.find((o) => o.username === "admin");
    expect(await bcrypt.compare(DEMO_OPERATORS[0]?.password ?? "", admin?.passwordHash ?? "")).toBe(true);
  });
});
