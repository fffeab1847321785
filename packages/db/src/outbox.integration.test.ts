import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enforcementChannel, requestEnforcement, UnknownSubscriberError } from "./outbox";
import { createTestDatabase, type TestDatabase } from "./testing";

describe("requestEnforcement", () => {
  let db: TestDatabase;
  let listener: pg.Client;
  const heard: string[] = [];
  let subscriberId = 0;
  let operatorId = 0;
  let routerId = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    const p = db.prisma;
    const plan = await p.plan.create({ data: { code: "T", name: "T", downloadKbps: 1, uploadKbps: 1, pricePaisa: 1 } });
    const router = await p.router.create({ data: { name: "R1", ipAddress: "127.0.0.1", radiusSecret: "s" } });
    routerId = router.id;
    const op = await p.operator.create({ data: { username: "noc", name: "N", passwordHash: "x", role: "noc" } });
    operatorId = op.id;
    const sub = await p.subscriber.create({
      data: { accountNo: "A1", name: "Ali", phone: "0300-1234567", cnic: "42101-1234567-1", address: "x", city: "Karachi", planId: plan.id, pppoeUsername: "ali", pppoePassword: "pw" },
    });
    subscriberId = sub.id;
    const t0 = new Date("2026-11-24T10:00:00Z");
    await p.radiusSession.createMany({
      data: [
        { routerId, acctSessionId: "old", subscriberId, username: "ali", status: "stopped", startedAt: t0, lastUpdateAt: t0 },
        { routerId, acctSessionId: "live-1", subscriberId, username: "ali", status: "active", startedAt: new Date(t0.getTime() + 60_000), lastUpdateAt: t0 },
      ],
    });
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on("notification", (n) => {
      if (n.channel === enforcementChannel && n.payload) heard.push(n.payload);
    });
    await listener.query(`LISTEN ${enforcementChannel}`);
  });
  afterAll(async () => {
    await listener?.end();
    await db?.drop();
  });

  const waitFor = async (pred: () => boolean, ms = 3000): Promise<void> => {
    const until = Date.now() + ms;
    while (!pred() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  };

  it("writes the outbox row and the audit row, then notifies with the id", async () => {
    const { actionId } = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId, operatorId, actor: "noc", reason: "unpaid" });
    await waitFor(() => heard.includes(actionId));
    expect(heard).toEqual([actionId]);
    const action = await db.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(actionId) } });
    expect(action).toMatchObject({ kind: "disconnect", status: "pending", subscriberId, routerId, acctSessionId: "live-1", requestedById: operatorId, reason: "unpaid" });
    const audit = await db.prisma.auditLog.findMany({ where: { entityType: "subscriber", entityId: String(subscriberId) } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: "subscriber.disconnect", actor: "noc", operatorId });
    expect(audit[0]?.details).toMatchObject({ actionId, session: { acctSessionId: "live-1", routerId } });
  });

  it("still queues the action when the subscriber has no active session", async () => {
    await db.prisma.radiusSession.updateMany({ where: { subscriberId }, data: { status: "stopped" } });
    const { actionId } = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId, operatorId: null, actor: "billing" });
    const action = await db.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(actionId) } });
    expect(action.routerId).toBeNull();
    expect(action.acctSessionId).toBeNull();
    await waitFor(() => heard.includes(actionId));
    expect(heard).toContain(actionId);
  });

  it("leaves no rows and sends no notification when the transaction fails", async () => {
    const before = { outbox: await db.prisma.enforcementAction.count(), audit: await db.prisma.auditLog.count(), heard: heard.length };
    await expect(
      requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: 987654, operatorId, actor: "noc" }),
    ).rejects.toBeInstanceOf(UnknownSubscriberError);
    // An operator id that breaks the FK fails after the outbox insert: must roll back too.
    await expect(
      requestEnforcement(db.prisma, { kind: "disconnect", subscriberId, operatorId: 987654, actor: "ghost" }),
    ).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    expect(await db.prisma.enforcementAction.count()).toBe(before.outbox);
    expect(await db.prisma.auditLog.count()).toBe(before.audit);
    expect(heard.length).toBe(before.heard);
  });
});
