// routers.* against a real, migrated and seeded PostgreSQL: the NAS administration page's
// procedures. Role gates, validation, CONFLICT on a duplicate address, write-only secrets
// (never in the list, never in an audit row), the audit trail, NOTIFY router_changed for
// the collector, and deactivation that asks for confirmation when sessions are open.
import { DEMO_RADIUS_SECRET } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRadiusSecret, type RouterCreateInput } from "../../lib/router-input";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let adminId: number;

function callerAs(role: OperatorRole, id = 1) {
  return createCaller({ operator: { id, username: role, name: role, role, dealerId: role === "dealer" ? 1 : null }, db: () => tdb.prisma });
}
const admin = () => callerAs("admin", adminId);

async function expectCode(p: Promise<unknown>, code: TRPCError["code"], message?: RegExp) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code && (!message || message.test(e.message)));
}

const secretA = "Zq7-first-secret-A1b2C3d4";
const secretB = "Yr8-second-secret-E5f6G7h8";
const apiPw = "api-Pa55word-Xy";

function input(over: Partial<RouterCreateInput> = {}): RouterCreateInput {
  return { name: "PSH-BNG-01", ipAddress: "10.20.30.1", vendor: "mikrotik", location: "Peshawar", radiusSecret: secretA, ...over };
}

/** Every secret value this file ever wrote; none may appear in list output or audit rows. */
const secrets = [secretA, secretB, apiPw, DEMO_RADIUS_SECRET];

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 10 });
  adminId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "admin" } })).id;
}, 120_000);

afterAll(async () => {
  await tdb?.drop();
});

describe("routers", () => {
  it("noc and admin may list; support, manager, dealer and compliance may not; only admin writes", async () => {
    for (const role of ["support", "manager", "dealer", "compliance"] as const) {
      await expectCode(callerAs(role).routers.list(), "FORBIDDEN");
    }
    for (const role of ["noc", "admin"] as const) {
      const list = await callerAs(role).routers.list();
      expect(list.map((r) => r.name).sort()).toEqual(["ISB-BNG-01", "KHI-BNG-01", "LHE-BNG-01"]);
    }
    const khi = (await admin().routers.list()).find((r) => r.name === "KHI-BNG-01")!;
    for (const role of ["noc", "support", "manager", "dealer", "compliance"] as const) {
      await expectCode(callerAs(role).routers.create(input({ name: `X-${role}`, ipAddress: "10.99.0.1" })), "FORBIDDEN");
      await expectCode(callerAs(role).routers.update({ ...input(), id: khi.id, name: "KHI-BNG-01", ipAddress: khi.ipAddress }), "FORBIDDEN");
      await expectCode(callerAs(role).routers.deactivate({ id: khi.id, confirmOpenSessions: 1000 }), "FORBIDDEN");
      await expectCode(callerAs(role).routers.reactivate({ id: khi.id }), "FORBIDDEN");
    }
    expect(await tdb.prisma.router.count()).toBe(3);
    expect(await tdb.prisma.auditLog.count({ where: { entityType: "router" } })).toBe(0);
  });

  it("validates: secret length, IP addresses, fingerprint, REST URL, API credentials", async () => {
    await expectCode(admin().routers.create(input({ radiusSecret: "short-secret" })), "BAD_REQUEST", /at least 16 characters/);
    await expectCode(admin().routers.create(input({ radiusSecret: "sixteen chars 16" })), "BAD_REQUEST", /printable ASCII/);
    for (const ip of ["10.0.0.256", "10.0.0.1/32", "router.example", "", "1:2:3"]) {
      await expectCode(admin().routers.create(input({ ipAddress: ip })), "BAD_REQUEST", /IPv4 or IPv6/);
    }
    await expectCode(admin().routers.create(input({ tlsFingerprint: "ab:cd" })), "BAD_REQUEST", /64 hex digits/);
    await expectCode(admin().routers.create(input({ apiKind: "rest", apiUsername: "isp", apiPassword: apiPw, restUrl: "not a url" })), "BAD_REQUEST", /REST base URL/);
    await expectCode(
      admin().routers.create(input({ apiKind: "rest", apiUsername: "isp", apiPassword: apiPw, restUrl: "http://10.20.30.1", apiTls: true })),
      "BAD_REQUEST",
      /https:\/\//,
    );
    await expectCode(admin().routers.create(input({ apiKind: "api", apiUsername: "isp" })), "BAD_REQUEST", /API password/);
    await expectCode(admin().routers.create(input({ apiKind: "api", apiPassword: apiPw })), "BAD_REQUEST", /API username/);
    await expectCode(admin().routers.create(input({ coaPort: 70000 })), "BAD_REQUEST", /1–65535/);
    expect(await tdb.prisma.router.count()).toBe(3);
  });

  it("creates a router (IPv6, normalised fingerprint), NOTIFYs the collector, audits without secrets; the list never carries one", async () => {
    const listener = new pg.Client({ connectionString: tdb.url });
    await listener.connect();
    await listener.query("LISTEN router_changed");
    const notified = new Promise<string>((resolve) => listener.on("notification", (n) => resolve(n.payload ?? "")));
    const fp = "AB:".repeat(31) + "AB";
    const { id } = await admin().routers.create(
      input({
        name: "PSH-BNG-01",
        ipAddress: "2001:DB8:0:0::1",
        vendor: "juniper",
        coaPort: 3800,
        authMode: "radius",
        apiKind: "rest",
        apiUsername: "isp-api",
        apiPassword: apiPw,
        restUrl: "https://[2001:db8::1]",
        apiTls: true,
        tlsFingerprint: fp,
      }),
    );
    expect(await notified).toContain(String(id));
    await listener.end();

    const row = await tdb.prisma.router.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({
      ipAddress: "2001:db8::1",
      vendor: "juniper",
      radiusSecret: secretA,
      apiPassword: apiPw,
      requireMessageAuthenticator: true,
      tlsFingerprint: "ab".repeat(32),
      tlsInsecure: false,
      active: true,
    });

    const list = await callerAs("noc").routers.list();
    const dto = list.find((r) => r.id === id)!;
    expect(dto).toMatchObject({ name: "PSH-BNG-01", ipAddress: "2001:db8::1", secretSet: true, apiPasswordSet: true, apiTls: true, openSessions: 0, lastSeenAt: null });
    expect(dto.secretChangedAt).not.toBeNull();
    const text = JSON.stringify(list);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(Object.keys(dto)).not.toContain("radiusSecret");
    expect(Object.keys(dto)).not.toContain("apiPassword");

    const audit = await tdb.prisma.auditLog.findFirstOrThrow({ where: { action: "router.created", entityType: "router", entityId: String(id) } });
    expect(audit).toMatchObject({ operatorId: adminId, actor: "admin" });
    expect(audit.details).toMatchObject({
      after: { name: "PSH-BNG-01", ipAddress: "2001:db8::1", vendor: "juniper", apiKind: "rest", apiPasswordSet: true, tlsFingerprint: "ab".repeat(32) },
      secretChanged: true,
      apiPasswordChanged: true,
    });
    for (const s of secrets) expect(JSON.stringify(audit.details)).not.toContain(s);
  });

  it("refuses a duplicate address (also written differently) or name with a clear CONFLICT", async () => {
    await expectCode(admin().routers.create(input({ name: "KHI-BNG-02", ipAddress: "127.0.0.1" })), "CONFLICT", /127\.0\.0\.1 is already used by router KHI-BNG-01/);
    await expectCode(admin().routers.create(input({ name: "PSH-BNG-02", ipAddress: "2001:db8::0:1" })), "CONFLICT", /already used by router PSH-BNG-01/);
    await expectCode(admin().routers.create(input({ name: "khi-bng-01", ipAddress: "10.1.1.1" })), "CONFLICT", /named KHI-BNG-01 already exists/);
    const lhe = (await admin().routers.list()).find((r) => r.name === "LHE-BNG-01")!;
    await expectCode(admin().routers.update({ ...input(), id: lhe.id, name: "LHE-BNG-01", ipAddress: "127.0.0.3" }), "CONFLICT", /ISB-BNG-01/);
    expect(await tdb.prisma.router.count()).toBe(4);
  });

  it("update: secrets unchanged when left out, changed ones audited as 'changed' only; fields diffed before/after", async () => {
    const { id } = await admin().routers.create(input({ name: "MUL-BNG-01", ipAddress: "10.40.0.1", apiKind: "api", apiUsername: "isp", apiPassword: apiPw }));
    const base = { id, name: "MUL-BNG-01", ipAddress: "10.40.0.1", vendor: "mikrotik" as const, location: "Multan", apiKind: "api" as const, apiUsername: "isp" };
    // No secret in the form: both stay; an unchanged form writes no audit row.
    expect(await admin().routers.update(base)).toEqual({ id, changed: true }); // location Peshawar -> Multan
    expect(await admin().routers.update(base)).toEqual({ id, changed: false });
    let row = await tdb.prisma.router.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ radiusSecret: secretA, apiPassword: apiPw, location: "Multan" });
    const first = await tdb.prisma.auditLog.findMany({ where: { action: "router.updated", entityId: String(id) } });
    expect(first).toHaveLength(1);
    expect(first[0]!.details).toEqual({ name: "MUL-BNG-01", before: { location: "Peshawar" }, after: { location: "Multan" } });

    // New secret, Message-Authenticator off, auth mode local.
    await admin().routers.update({ ...base, radiusSecret: secretB, requireMessageAuthenticator: false, authMode: "local", tlsFingerprint: "CD".repeat(32), tlsInsecure: true });
    row = await tdb.prisma.router.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ radiusSecret: secretB, apiPassword: apiPw, requireMessageAuthenticator: false, authMode: "local", tlsFingerprint: "cd".repeat(32), tlsInsecure: true });
    const second = await tdb.prisma.auditLog.findFirstOrThrow({ where: { action: "router.updated", entityId: String(id) }, orderBy: { id: "desc" } });
    expect(second.details).toEqual({
      name: "MUL-BNG-01",
      before: { requireMessageAuthenticator: true, authMode: "radius", tlsFingerprint: null, tlsInsecure: false },
      after: { requireMessageAuthenticator: false, authMode: "local", tlsFingerprint: "cd".repeat(32), tlsInsecure: true },
      secretChanged: true,
    });

    // API off: credentials cleared, audited as a change of the password too.
    await admin().routers.update({ ...base, apiKind: "none", apiUsername: "" });
    row = await tdb.prisma.router.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ apiKind: "none", apiUsername: null, apiPassword: null, radiusSecret: secretB });
    const third = await tdb.prisma.auditLog.findFirstOrThrow({ where: { action: "router.updated", entityId: String(id) }, orderBy: { id: "desc" } });
    expect(third.details).toMatchObject({ before: { apiKind: "api", apiUsername: "isp", apiPasswordSet: true }, after: { apiKind: "none", apiUsername: null, apiPasswordSet: false }, apiPasswordChanged: true });
    // Back to API without a password: refused (nothing stored to keep).
    await expectCode(admin().routers.update({ ...base }), "PRECONDITION_FAILED", /API password/);

    const all = await tdb.prisma.auditLog.findMany({ where: { entityType: "router" } });
    for (const a of all) for (const s of secrets) expect(JSON.stringify(a.details)).not.toContain(s);
    await expectCode(admin().routers.update({ ...base, id: 999_999 }), "NOT_FOUND");
  });

  it("deactivating a router with open sessions needs the count confirmed; reactivate; both audited", async () => {
    const khi = (await admin().routers.list()).find((r) => r.name === "KHI-BNG-01")!;
    const now = new Date();
    await tdb.prisma.radiusSession.createMany({
      data: [1, 2, 3].map((i) => ({ routerId: khi.id, acctSessionId: `rt-${i}`, username: `u${i}`, startedAt: now, lastUpdateAt: new Date(now.getTime() - i * 1000) })),
    });
    const listed = (await callerAs("noc").routers.list()).find((r) => r.id === khi.id)!;
    expect(listed).toMatchObject({ openSessions: 3, lastSeenAt: new Date(now.getTime() - 1000).toISOString(), secretChangedAt: null });

    await expectCode(admin().routers.deactivate({ id: khi.id }), "PRECONDITION_FAILED", /has 3 open sessions; confirm/);
    await expectCode(admin().routers.deactivate({ id: khi.id, confirmOpenSessions: 2 }), "PRECONDITION_FAILED", /3 open sessions/);
    expect((await tdb.prisma.router.findUniqueOrThrow({ where: { id: khi.id } })).active).toBe(true);
    expect(await admin().routers.deactivate({ id: khi.id, confirmOpenSessions: 3 })).toEqual({ id: khi.id, active: false, openSessions: 3 });
    expect((await tdb.prisma.router.findUniqueOrThrow({ where: { id: khi.id } })).active).toBe(false);
    await expectCode(admin().routers.deactivate({ id: khi.id, confirmOpenSessions: 3 }), "CONFLICT", /already inactive/);
    expect((await callerAs("noc").routers.list()).find((r) => r.id === khi.id)!.active).toBe(false);

    await admin().routers.reactivate({ id: khi.id });
    expect((await tdb.prisma.router.findUniqueOrThrow({ where: { id: khi.id } })).active).toBe(true);
    const rows = await tdb.prisma.auditLog.findMany({ where: { entityType: "router", entityId: String(khi.id) }, orderBy: { id: "asc" } });
    expect(rows.map((r) => r.action)).toEqual(["router.deactivated", "router.reactivated"]);
    expect(rows[0]!.details).toEqual({ name: "KHI-BNG-01", ipAddress: "127.0.0.1", before: { active: true }, after: { active: false }, openSessions: 3 });
    expect(rows[0]).toMatchObject({ operatorId: adminId, actor: "admin" });

    // No open sessions: no confirmation needed.
    const isb = (await admin().routers.list()).find((r) => r.name === "ISB-BNG-01")!;
    expect(isb.openSessions).toBe(0);
    await admin().routers.deactivate({ id: isb.id });
    await admin().routers.reactivate({ id: isb.id });
  });

  it("generateRadiusSecret makes 32 letters and digits that pass the rules", () => {
    const a = generateRadiusSecret();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generateRadiusSecret()).not.toBe(a);
  });
});
