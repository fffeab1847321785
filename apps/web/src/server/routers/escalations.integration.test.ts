// escalations.* against a real, migrated and seeded PostgreSQL: the NOC's list of
// escalated enforcement rows, retry (back to the outbox, NOTIFY, audited) and
// acknowledge (handled, audited), role-checked.
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let subs: number[];
let nocId: number;

function callerAs(role: OperatorRole, dealerId: number | null = null, id = 1) {
  return createCaller({ operator: { id, username: role, name: role, role, dealerId }, db: () => tdb.prisma });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

/** An outbox row as the worker leaves it after giving up. */
async function escalatedRow(subscriberId: number, kind: "kick" | "suspend", lastError: string): Promise<string> {
  const r = await tdb.prisma.enforcementAction.create({
    data: {
      kind,
      status: "timeout",
      subscriberId,
      attempts: 5,
      completedAt: new Date(),
      lastError,
      path: "disconnect",
      escalated: true,
      reason: "test",
    },
  });
  return String(r.id);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 20 });
  subs = (await tdb.prisma.subscriber.findMany({ where: { status: "active" }, orderBy: { id: "asc" }, take: 4 })).map((s) => s.id);
  nocId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "noc" } })).id;
}, 120_000);

afterAll(async () => {
  await tdb?.drop();
});

describe("escalations", () => {
  it("noc, support and admin may list; manager, dealer and compliance may not", async () => {
    await escalatedRow(subs[0]!, "kick", "KHI-BNG-01 did not answer after 5 attempts");
    for (const role of ["manager", "dealer", "compliance"] as const) {
      await expectCode(callerAs(role, role === "dealer" ? 1 : null).escalations.list(), "FORBIDDEN");
      await expectCode(callerAs(role, role === "dealer" ? 1 : null).escalations.count(), "FORBIDDEN");
    }
    for (const role of ["noc", "support", "admin"] as const) {
      const list = await callerAs(role).escalations.list();
      expect(list.length).toBeGreaterThanOrEqual(1);
      expect(list[0]).toMatchObject({ subscriberId: subs[0], kind: "kick", status: "timeout", attempts: 5, lastError: "KHI-BNG-01 did not answer after 5 attempts", ackedAt: null });
    }
  });

  it("retry puts the row back in the outbox with attempts reset, NOTIFY and an audit row; it leaves the open list", async () => {
    const id = await escalatedRow(subs[1]!, "suspend", "api failed: connect ECONNREFUSED");
    const before = (await callerAs("noc").escalations.count()).open;
    const listener = new pg.Client({ connectionString: tdb.url });
    await listener.connect();
    await listener.query("LISTEN enforcement");
    const notified = new Promise<string>((resolve) => listener.on("notification", (n) => resolve(n.payload ?? "")));
    await callerAs("noc", null, nocId).escalations.retry({ actionId: id });
    expect(await notified).toBe(id);
    await listener.end();
    const row = await tdb.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(id) } });
    expect(row).toMatchObject({ status: "pending", attempts: 0, escalated: false, completedAt: null, lockedUntil: null, escalationAckedAt: null });
    expect((await callerAs("noc").escalations.count()).open).toBe(before - 1);
    const audit = await tdb.prisma.auditLog.findFirstOrThrow({ where: { action: "enforcement.escalation_retried", entityId: String(subs[1]) } });
    expect(audit).toMatchObject({ operatorId: nocId, actor: "noc" });
    expect(audit.details).toMatchObject({ actionId: id, kind: "suspend", before: { status: "timeout", attempts: 5, lastError: "api failed: connect ECONNREFUSED" } });
    // Not escalated any more (pending): a second retry is a conflict, not a second send.
    await expectCode(callerAs("noc").escalations.retry({ actionId: id }), "CONFLICT");
  });

  it("acknowledge marks it handled by whom and when, audited; twice is a conflict; the acked list still shows it", async () => {
    const id = await escalatedRow(subs[2]!, "kick", "KHI-BNG-02 refused (Error-Cause 404)");
    const r = await callerAs("support", null, (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "support" } })).id).escalations.acknowledge({
      actionId: id,
      note: "called the field team",
    });
    expect(r.actionId).toBe(id);
    const row = await tdb.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(id) } });
    expect(row.escalationAckedBy).toBe("support");
    expect(row.escalationAckedAt).toBeInstanceOf(Date);
    expect(row.status).toBe("timeout");
    expect((await callerAs("noc").escalations.list()).map((e) => e.id)).not.toContain(id);
    const all = await callerAs("noc").escalations.list({ includeAcked: true, limit: 100 });
    expect(all.find((e) => e.id === id)).toMatchObject({ ackedBy: "support" });
    const audit = await tdb.prisma.auditLog.findFirstOrThrow({ where: { action: "enforcement.escalation_acked", entityId: String(subs[2]) } });
    expect(audit.details).toMatchObject({ actionId: id, note: "called the field team", lastError: "KHI-BNG-02 refused (Error-Cause 404)" });
    await expectCode(callerAs("noc").escalations.acknowledge({ actionId: id }), "CONFLICT");
    // Acknowledged, it can still be retried (the operator changed their mind).
    await callerAs("noc").escalations.retry({ actionId: id });
    expect((await tdb.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(id) } })).status).toBe("pending");
  });

  it("a row superseded by a newer action for the subscriber cannot be retried; unknown and non-escalated rows are refused", async () => {
    const id = await escalatedRow(subs[3]!, "suspend", "no answer");
    await tdb.prisma.enforcementAction.create({ data: { kind: "restore", status: "acked", subscriberId: subs[3]!, completedAt: new Date() } });
    await expect(callerAs("admin").escalations.retry({ actionId: id })).rejects.toThrow(/Superseded by action #\d+/);
    expect((await tdb.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(id) } })).status).toBe("timeout");
    await expectCode(callerAs("admin").escalations.retry({ actionId: "999999999" }), "NOT_FOUND");
    const plain = await tdb.prisma.enforcementAction.create({ data: { kind: "kick", status: "acked", subscriberId: subs[3]!, completedAt: new Date() } });
    await expectCode(callerAs("admin").escalations.acknowledge({ actionId: String(plain.id) }), "CONFLICT");
    await expectCode(callerAs("manager").escalations.retry({ actionId: id }), "FORBIDDEN");
    // Nothing here wrote an audit row for the refusals.
    expect(await tdb.prisma.auditLog.count({ where: { action: { startsWith: "enforcement.escalation_" }, entityId: String(subs[3]) } })).toBe(0);
  });
});
