// subscriber.act against a real, migrated and seeded PostgreSQL: each one-click action is
// one transaction (state change + outbox row + audit row + NOTIFY), role-checked.
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let subscriberId: number;
let supportId: number;

function callerAs(role: OperatorRole, dealerId: number | null = null, id = 1) {
  return createCaller({ operator: { id, username: role, name: role, role, dealerId }, db: () => tdb.prisma });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 20 });
  subscriberId = (await tdb.prisma.subscriber.findFirstOrThrow({ where: { status: "active" }, orderBy: { id: "asc" } })).id;
  supportId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "support" } })).id;
}, 120_000);

afterAll(async () => {
  await tdb?.drop();
});

describe("subscriber.act", () => {
  it("only support and admin may act; manager, noc and dealer may not", async () => {
    for (const role of ["manager", "noc", "dealer", "compliance"] as const) {
      await expectCode(callerAs(role).subscriber.act({ id: subscriberId, kind: "suspend" }), "FORBIDDEN");
    }
    expect(await tdb.prisma.enforcementAction.count({ where: { subscriberId } })).toBe(0);
  });

  it("change plan: plan, outbox row with the new rate, audit row and NOTIFY in one go", async () => {
    const listener = new pg.Client({ connectionString: tdb.url });
    await listener.connect();
    await listener.query("LISTEN enforcement");
    const notified = new Promise<string>((resolve) => listener.on("notification", (n) => resolve(n.payload ?? "")));
    const before = await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: subscriberId } });
    const plan = await tdb.prisma.plan.findFirstOrThrow({ where: { id: { not: before.planId }, active: true }, orderBy: { id: "desc" } });
    const plans = await callerAs("support").subscriber.plans();
    expect(plans.map((p) => p.id)).toContain(plan.id);

    const { actionId } = await callerAs("support", null, supportId).subscriber.act({ id: subscriberId, kind: "change_plan", planId: plan.id });
    expect(await notified).toBe(actionId);
    await listener.end();
    const row = await tdb.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(actionId) } });
    expect(row).toMatchObject({ kind: "change_plan", status: "pending", requestedById: supportId, params: { planId: plan.id, downloadKbps: plan.downloadKbps, uploadKbps: plan.uploadKbps } });
    expect((await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: subscriberId } })).planId).toBe(plan.id);
    const audit = await tdb.prisma.auditLog.findFirstOrThrow({ where: { entityId: String(subscriberId), action: "subscriber.change_plan" } });
    expect(audit.details).toMatchObject({ actionId, before: { planId: before.planId }, after: { planId: plan.id } });
    const detail = await callerAs("support").subscriber.get({ id: subscriberId });
    expect(detail.plan.id).toBe(plan.id);
    expect(detail.actions[0]).toMatchObject({ id: actionId, kind: "change_plan", path: null, escalated: false });
  });

  it("suspend, restore and terminate change the status; a terminated subscriber takes no more changes", async () => {
    const status = async () => (await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: subscriberId } })).status;
    await callerAs("admin").subscriber.act({ id: subscriberId, kind: "suspend" });
    expect(await status()).toBe("suspended");
    await callerAs("admin").subscriber.act({ id: subscriberId, kind: "restore" });
    expect(await status()).toBe("active");
    await callerAs("admin").subscriber.act({ id: subscriberId, kind: "terminate" });
    expect(await status()).toBe("terminated");
    await expectCode(callerAs("admin").subscriber.act({ id: subscriberId, kind: "restore" }), "BAD_REQUEST");
    await expectCode(callerAs("admin").subscriber.act({ id: subscriberId, kind: "change_plan" }), "BAD_REQUEST");
    expect(await status()).toBe("terminated");
    const kinds = await tdb.prisma.enforcementAction.findMany({ where: { subscriberId }, orderBy: { id: "asc" }, select: { kind: true } });
    expect(kinds.map((k) => k.kind)).toEqual(["change_plan", "suspend", "restore", "terminate"]);
  });

  it("an unknown subscriber is NOT_FOUND and nothing is written", async () => {
    const before = await tdb.prisma.enforcementAction.count();
    await expectCode(callerAs("admin").subscriber.act({ id: 987_654, kind: "suspend" }), "NOT_FOUND");
    await expectCode(callerAs("support").subscriber.disconnect({ id: 987_654 }), "NOT_FOUND");
    expect(await tdb.prisma.enforcementAction.count()).toBe(before);
  });

  it("an unknown plan is refused and changes nothing", async () => {
    const other = (await tdb.prisma.subscriber.findFirstOrThrow({ where: { status: "active", id: { not: subscriberId } }, orderBy: { id: "asc" } })).id;
    await expectCode(callerAs("support").subscriber.act({ id: other, kind: "change_plan", planId: 999_999 }), "BAD_REQUEST");
    expect(await tdb.prisma.enforcementAction.count({ where: { subscriberId: other } })).toBe(0);
  });
});
