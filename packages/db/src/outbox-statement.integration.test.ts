// requestEnforcement as one SQL statement (docs/enforcement.md): the validation rules and
// errors, exactly one outbox row and one audit row per accepted request, nothing at all for
// a refused one, and concurrent requests on one subscriber serialised (exact before/after).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enforcementChannel, enforcementKinds, InvalidActionError, requestEnforcement, UnknownSubscriberError, type EnforcementKind } from "./outbox";
import { createTestDatabase, type TestDatabase } from "./testing";

let db: TestDatabase;
let listener: pg.Client;
const heard: string[] = [];
let planFull = 0; // fup rates set
let planPlain = 0; // no fup rates: a quarter of the plan's, min 64
let planRetired = 0;
let seq = 0;

async function newSubscriber(planId: number, status: "active" | "suspended" | "terminated" = "active"): Promise<number> {
  seq++;
  const s = await db.prisma.subscriber.create({
    data: {
      accountNo: `S${seq}`,
      name: `Sub ${seq}`,
      phone: "0300-1234567",
      cnic: "42101-1234567-1",
      address: "x",
      city: "Karachi",
      planId,
      status,
      pppoeUsername: `user${seq}`,
      pppoePassword: "pw",
    },
  });
  return s.id;
}

const counts = async (subscriberId: number) => ({
  outbox: await db.prisma.enforcementAction.count({ where: { subscriberId } }),
  audit: await db.prisma.auditLog.count({ where: { entityType: "subscriber", entityId: String(subscriberId) } }),
});

beforeAll(async () => {
  db = await createTestDatabase();
  const p = db.prisma;
  planFull = (await p.plan.create({ data: { code: "F", name: "F", downloadKbps: 20_000, uploadKbps: 10_000, pricePaisa: 1, fupQuotaBytes: 10n ** 11n, fupDownloadKbps: 2000, fupUploadKbps: 1000 } })).id;
  planPlain = (await p.plan.create({ data: { code: "P", name: "P", downloadKbps: 200, uploadKbps: 4000, pricePaisa: 1 } })).id;
  planRetired = (await p.plan.create({ data: { code: "R", name: "R", downloadKbps: 1, uploadKbps: 1, pricePaisa: 1, active: false } })).id;
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

describe("requestEnforcement (one statement)", () => {
  it("a terminated subscriber takes only disconnect, kick and terminate; refused kinds write nothing", async () => {
    const id = await newSubscriber(planFull, "terminated");
    const refused = enforcementKinds.filter((k) => !["disconnect", "kick", "terminate"].includes(k));
    for (const kind of refused) {
      const err = await requestEnforcement(db.prisma, { kind, subscriberId: id, planId: planPlain, operatorId: null, actor: "t" }).catch((e: unknown) => e);
      expect(err, kind).toBeInstanceOf(InvalidActionError);
      expect((err as Error).message).toBe("subscriber is terminated");
    }
    expect(await counts(id)).toEqual({ outbox: 0, audit: 0 });
    const sub = await db.prisma.subscriber.findUniqueOrThrow({ where: { id } });
    expect(sub).toMatchObject({ status: "terminated", planId: planFull });
    for (const kind of ["disconnect", "kick", "terminate"] as const) {
      await requestEnforcement(db.prisma, { kind, subscriberId: id, operatorId: null, actor: "t" });
    }
    expect(await counts(id)).toEqual({ outbox: 3, audit: 3 });
  });

  it("change_plan needs an existing, active plan", async () => {
    const id = await newSubscriber(planFull);
    await expect(requestEnforcement(db.prisma, { kind: "change_plan", subscriberId: id, operatorId: null, actor: "t" })).rejects.toThrow(
      new InvalidActionError("change_plan needs a plan"),
    );
    await expect(requestEnforcement(db.prisma, { kind: "change_plan", subscriberId: id, planId: 987_654, operatorId: null, actor: "t" })).rejects.toThrow(
      new InvalidActionError("plan 987654 does not exist or is retired"),
    );
    await expect(requestEnforcement(db.prisma, { kind: "change_plan", subscriberId: id, planId: planRetired, operatorId: null, actor: "t" })).rejects.toThrow(
      new InvalidActionError(`plan ${planRetired} does not exist or is retired`),
    );
    expect(await counts(id)).toEqual({ outbox: 0, audit: 0 });
    expect((await db.prisma.subscriber.findUniqueOrThrow({ where: { id } })).planId).toBe(planFull);
  });

  it("an unknown subscriber is UnknownSubscriberError, whatever the kind", async () => {
    for (const kind of ["disconnect", "change_plan", "throttle"] as const) {
      await expect(requestEnforcement(db.prisma, { kind, subscriberId: 987_654, planId: planPlain, operatorId: null, actor: "t" })).rejects.toBeInstanceOf(UnknownSubscriberError);
    }
  });

  it("a dealer scope finds only that dealer's subscribers; outside it is UnknownSubscriberError with nothing written", async () => {
    const d1 = await db.prisma.dealer.create({ data: { code: "D1", name: "D1", phone: "1", city: "K" } });
    const d2 = await db.prisma.dealer.create({ data: { code: "D2", name: "D2", phone: "2", city: "K" } });
    const id = await newSubscriber(planFull);
    await db.prisma.subscriber.update({ where: { id }, data: { dealerId: d1.id } });
    await expect(requestEnforcement(db.prisma, { kind: "suspend", subscriberId: id, dealerId: d2.id, operatorId: null, actor: "t" })).rejects.toBeInstanceOf(UnknownSubscriberError);
    expect(await counts(id)).toEqual({ outbox: 0, audit: 0 });
    expect((await db.prisma.subscriber.findUniqueOrThrow({ where: { id } })).status).toBe("active");
    await requestEnforcement(db.prisma, { kind: "suspend", subscriberId: id, dealerId: d1.id, operatorId: null, actor: "t" });
    expect(await counts(id)).toEqual({ outbox: 1, audit: 1 });
    expect((await db.prisma.subscriber.findUniqueOrThrow({ where: { id } })).status).toBe("suspended");
  });

  it("throttle: the given rate, else the plan's fup rates, else a quarter of the plan's (min 64 kbps)", async () => {
    const cases: Array<[number, { downloadKbps: number; uploadKbps: number } | undefined, { downloadKbps: number; uploadKbps: number }]> = [
      [planFull, undefined, { downloadKbps: 2000, uploadKbps: 1000 }],
      [planPlain, undefined, { downloadKbps: 64, uploadKbps: 1000 }],
      [planFull, { downloadKbps: 512, uploadKbps: 256 }, { downloadKbps: 512, uploadKbps: 256 }],
    ];
    for (const [planId, rate, want] of cases) {
      const id = await newSubscriber(planId);
      const { actionId } = await requestEnforcement(db.prisma, { kind: "throttle", subscriberId: id, ...(rate ? { rate } : {}), operatorId: null, actor: "t" });
      const row = await db.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(actionId) } });
      expect(row.params).toEqual(want);
      const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { entityId: String(id) } });
      expect(audit.details).toMatchObject({ params: want, before: { planId }, after: { planId } });
    }
  });

  it("each accepted kind writes exactly one outbox row, one audit row (before/after/params/session) and one NOTIFY", async () => {
    const operator = await db.prisma.operator.create({ data: { username: "sup", name: "S", passwordHash: "x", role: "support" } });
    const router = await db.prisma.router.create({ data: { name: "R9", ipAddress: "127.0.0.9", radiusSecret: "s" } });
    const expected: Record<EnforcementKind, { status: string; planId: number; params: unknown }> = {
      disconnect: { status: "active", planId: planFull, params: null },
      kick: { status: "active", planId: planFull, params: null },
      suspend: { status: "suspended", planId: planFull, params: null },
      restore: { status: "active", planId: planFull, params: null },
      change_plan: { status: "active", planId: planPlain, params: { planId: planPlain, downloadKbps: 200, uploadKbps: 4000 } },
      throttle: { status: "active", planId: planFull, params: { downloadKbps: 2000, uploadKbps: 1000 } },
      walled_garden_on: { status: "active", planId: planFull, params: null },
      walled_garden_off: { status: "active", planId: planFull, params: null },
      terminate: { status: "terminated", planId: planFull, params: null },
    };
    for (const kind of enforcementKinds) {
      const id = await newSubscriber(planFull, kind === "restore" ? "suspended" : "active");
      const t0 = new Date();
      const session = await db.prisma.radiusSession.create({
        data: { routerId: router.id, acctSessionId: `S-${id}`, subscriberId: id, username: `user${seq}`, status: "active", startedAt: t0, lastUpdateAt: t0 },
      });
      const heardBefore = heard.length;
      const { actionId } = await requestEnforcement(db.prisma, {
        kind,
        subscriberId: id,
        ...(kind === "change_plan" ? { planId: planPlain } : {}),
        operatorId: operator.id,
        actor: "sup",
        reason: `why ${kind}`,
      });
      const want = expected[kind];
      expect(await counts(id), kind).toEqual({ outbox: 1, audit: 1 });
      const row = await db.prisma.enforcementAction.findUniqueOrThrow({ where: { id: BigInt(actionId) } });
      expect(row, kind).toMatchObject({ kind, status: "pending", routerId: router.id, acctSessionId: `S-${id}`, requestedById: operator.id, reason: `why ${kind}`, attempts: 0 });
      expect(row.params, kind).toEqual(want.params);
      const sub = await db.prisma.subscriber.findUniqueOrThrow({ where: { id } });
      expect({ status: sub.status, planId: sub.planId }, kind).toEqual({ status: want.status, planId: want.planId });
      const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { entityId: String(id) } });
      expect(audit, kind).toMatchObject({ operatorId: operator.id, actor: "sup", action: `subscriber.${kind}`, entityType: "subscriber" });
      expect(audit.details, kind).toEqual({
        actionId,
        reason: `why ${kind}`,
        before: { status: kind === "restore" ? "suspended" : "active", planId: planFull },
        after: { status: want.status, planId: want.planId },
        params: want.params,
        session: { id: session.id.toString(), routerId: router.id, acctSessionId: `S-${id}` },
      });
      const until = Date.now() + 3000;
      while (!heard.includes(actionId) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(heard.slice(heardBefore), kind).toEqual([actionId]);
    }
  });

  it("concurrent actions on one subscriber queue behind each other: every audit row's before is the previous after", async () => {
    const id = await newSubscriber(planFull);
    const kinds: EnforcementKind[] = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? "suspend" : i % 3 === 1 ? "restore" : "change_plan"));
    await Promise.all(
      kinds.map((kind, i) =>
        requestEnforcement(db.prisma, { kind, subscriberId: id, ...(kind === "change_plan" ? { planId: i % 2 ? planFull : planPlain } : {}), operatorId: null, actor: "t" }),
      ),
    );
    expect(await counts(id)).toEqual({ outbox: 24, audit: 24 });
    const audit = await db.prisma.auditLog.findMany({ where: { entityId: String(id) }, orderBy: { id: "asc" } });
    const chain = audit.map((a) => a.details as { before: { status: string; planId: number }; after: { status: string; planId: number } });
    expect(chain[0]!.before).toEqual({ status: "active", planId: planFull });
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.before, `audit ${i}`).toEqual(chain[i - 1]!.after);
    const sub = await db.prisma.subscriber.findUniqueOrThrow({ where: { id } });
    expect({ status: sub.status, planId: sub.planId }).toEqual(chain.at(-1)!.after);
  });
});
