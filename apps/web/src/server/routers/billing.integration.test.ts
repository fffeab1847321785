// billing.requestRun against a real, migrated PostgreSQL: admin/manager only, audited,
// one open request per (kind, period), and a NOTIFY the collector's scheduler listens for.
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { billingRequestChannel } from "../services/billing-runs";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let managerId: number;

function callerAs(role: OperatorRole, id = 1) {
  return createCaller({ operator: { id, username: role, name: role, role, dealerId: null }, db: () => tdb.prisma });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 5 });
  managerId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "manager" } })).id;
}, 120_000);

afterAll(async () => {
  await tdb?.drop();
});

describe("billing.requestRun", () => {
  it("refuses support, noc and dealer; writes nothing", async () => {
    for (const role of ["support", "noc", "dealer", "compliance"] as const) {
      await expectCode(callerAs(role).billing.requestRun({ kind: "billing" }), "FORBIDDEN");
      await expectCode(callerAs(role).billing.runs(), "FORBIDDEN");
    }
    expect(await tdb.prisma.billingRun.count()).toBe(0);
  });

  it("a manager's request is one row, audited and notified; asking again returns the same row", async () => {
    const listener = new pg.Client({ connectionString: tdb.url });
    await listener.connect();
    await listener.query(`LISTEN ${billingRequestChannel}`);
    const notified = new Promise<string>((resolve) => listener.on("notification", (n) => resolve(n.payload ?? "")));

    const first = await callerAs("manager", managerId).billing.requestRun({ kind: "billing", period: "2026-10-01" });
    expect(await notified).toBe("billing");
    await listener.end();
    const again = await callerAs("admin").billing.requestRun({ kind: "billing", period: "2026-10-01" });
    expect(first.alreadyRequested).toBe(false);
    expect(again).toEqual({ runId: first.runId, period: "2026-10-01", alreadyRequested: true });

    const rows = await tdb.prisma.billingRun.findMany();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: "billing", status: "requested", requestedBy: "manager" });
    const audits = await tdb.prisma.auditLog.findMany({ where: { entityType: "billing_run", entityId: first.runId }, orderBy: { id: "asc" } });
    expect(audits.map((a) => [a.actor, a.action])).toEqual([
      ["manager", "billing.request_billing"],
      ["admin", "billing.request_billing"],
    ]);
    expect(audits[0]?.operatorId).toBe(managerId);

    const runs = await callerAs("manager").billing.runs();
    expect(runs[0]).toMatchObject({ id: first.runId, kind: "billing", period: "2026-10-01", status: "requested", seconds: null });
  });

  it("rejects a period that is not a month start, a future month and a past dunning day", async () => {
    await expectCode(callerAs("manager").billing.requestRun({ kind: "billing", period: "2026-10-15" }), "BAD_REQUEST");
    await expectCode(callerAs("manager").billing.requestRun({ kind: "billing", period: "2999-01-01" }), "BAD_REQUEST");
    await expectCode(callerAs("manager").billing.requestRun({ kind: "dunning", period: "2020-01-01" }), "BAD_REQUEST");
    expect(await tdb.prisma.billingRun.count()).toBe(1);
  });
});
