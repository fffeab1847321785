// payments.* against a real, migrated and seeded PostgreSQL (TEST_DATABASE_URL): the same
// @isp/db/payments orchestration the collector uses, reached through the tRPC procedures
// with their role and dealer checks.
import { paymentRules } from "@isp/billing/account";
import { loadAccountHistories, writeDunning } from "@isp/db/billing-store";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { createInvoice, karachiDay } from "../testing/billing-fixtures";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let pool: pg.Pool;
const operatorIds = new Map<string, number>();
let ownDealerId: number;
let otherDealerId: number;
/** The dealer's subscribers (one per test that writes), and another dealer's. */
let own: number[];
let other: number;
let keySeq = 0;

function callerAs(role: OperatorRole | null, dealerId: number | null = null) {
  const operator = role ? { id: operatorIds.get(role) ?? operatorIds.get("admin")!, username: role, name: role, role, dealerId } : null;
  return createCaller({ operator, db: () => tdb.prisma, pool: () => pool });
}

const key = () => `test-${process.pid}-${++keySeq}-abcdef`;

async function expectCode(p: Promise<unknown>, code: TRPCError["code"], message?: RegExp) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code && (!message || message.test(e.message)));
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return (await pool.query<{ n: number }>(sql, params)).rows[0]!.n;
}

async function receivable(subscriberId: number): Promise<number> {
  return (await pool.query<{ b: number }>("SELECT coalesce(sum(amount_paisa), 0)::float8 AS b FROM ledger_entries WHERE account = $1", [`receivable:${subscriberId}`])).rows[0]!.b;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 40 });
  pool = new pg.Pool({ connectionString: tdb.url, max: 6 });
  for (const o of await tdb.prisma.operator.findMany()) operatorIds.set(o.username, o.id);
  ownDealerId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "dealer" } })).dealerId!;
  own = (await tdb.prisma.subscriber.findMany({ where: { dealerId: ownDealerId }, orderBy: { id: "asc" }, take: 5 })).map((s) => s.id);
  const o = await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: { not: ownDealerId, gt: 0 } }, orderBy: { id: "asc" } });
  other = o.id;
  otherDealerId = o.dealerId!;
  expect(own.length).toBe(5);
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe("payments.recordCash", () => {
  it("a double submit records once: one payment, one ledger transaction, one audit row, the same receipt", async () => {
    const sub = own[0]!;
    await createInvoice(tdb.prisma, pool, { subscriberId: sub, periodStart: "2026-10-01", dueOn: karachiDay(5), lines: [{ description: "Fiber 20 Mbps", net: 200_000, tax: 39_000 }] });
    const requestKey = key();
    const input = { subscriberId: sub, amount: "1,000.50", requestKey };
    // Two clicks in flight at once, then a third after both answered.
    const [a, b] = await Promise.all([callerAs("support").payments.recordCash(input), callerAs("support").payments.recordCash(input)]);
    const c = await callerAs("support").payments.recordCash(input);
    expect(a.receiptNo).toMatch(/^RCT-\d{4}-\d{7}$/);
    expect([a.receiptNo, b.receiptNo, c.receiptNo]).toEqual([a.receiptNo, a.receiptNo, a.receiptNo]);
    expect([a.duplicate, b.duplicate].sort()).toEqual([false, true]);
    expect(c.duplicate).toBe(true);
    expect(await count("SELECT count(*)::int AS n FROM payments WHERE request_key = $1", [requestKey])).toBe(1);
    expect(await count("SELECT count(*)::int AS n FROM ledger_transactions WHERE key = $1", [`payment:${a.receiptNo}`])).toBe(1);
    expect(await count("SELECT count(*)::int AS n FROM audit_log WHERE action = 'payment.record' AND details->>'receiptNo' = $1", [a.receiptNo])).toBe(1);
    expect(a.amountPaisa).toBe(100_050);
    expect(c.balancePaisa).toBe(239_000 - 100_050);
    expect(await receivable(sub)).toBe(239_000 - 100_050);
    const audit = await pool.query("SELECT operator_id, actor, details FROM audit_log WHERE action = 'payment.record' AND details->>'receiptNo' = $1", [a.receiptNo]);
    expect(audit.rows[0]).toMatchObject({ operator_id: operatorIds.get("support"), actor: "support", details: { amountPaisa: 100_050, method: "cash", requestKey } });
  });

  it("receipt numbers are consecutive", async () => {
    const r1 = await callerAs("admin").payments.recordCash({ subscriberId: own[1]!, amount: "100", requestKey: key() });
    const r2 = await callerAs("admin").payments.recordCash({ subscriberId: own[1]!, amount: "200", requestKey: key() });
    const seq = (r: string) => Number(r.slice(-7));
    expect(seq(r2.receiptNo)).toBe(seq(r1.receiptNo) + 1);
    expect(r2.balancePaisa).toBe(-30_000); // nothing billed: an advance
  });

  it("a dealer records for their own subscriber; another dealer's is NOT_FOUND and nothing is written", async () => {
    const mine = await callerAs("dealer", ownDealerId).payments.recordCash({ subscriberId: own[2]!, amount: "500", requestKey: key() });
    expect(mine.duplicate).toBe(false);
    const before = await count("SELECT count(*)::int AS n FROM payments");
    const audits = await count("SELECT count(*)::int AS n FROM audit_log");
    await expectCode(callerAs("dealer", ownDealerId).payments.recordCash({ subscriberId: other, amount: "500", requestKey: key() }), "NOT_FOUND");
    await expectCode(callerAs("dealer", otherDealerId).payments.recordCash({ subscriberId: own[2]!, amount: "500", requestKey: key() }), "NOT_FOUND");
    await expectCode(callerAs("dealer", null).payments.recordCash({ subscriberId: own[2]!, amount: "500", requestKey: key() }), "NOT_FOUND");
    await expectCode(callerAs("admin").payments.recordCash({ subscriberId: 9_999_999, amount: "500", requestKey: key() }), "NOT_FOUND");
    expect(await count("SELECT count(*)::int AS n FROM payments")).toBe(before);
    expect(await count("SELECT count(*)::int AS n FROM audit_log")).toBe(audits);
    expect(await count("SELECT count(*)::int AS n FROM ledger_entries WHERE account = $1", [`receivable:${other}`])).toBe(0);
  });

  it("refuses other roles and bad amounts", async () => {
    const before = await count("SELECT count(*)::int AS n FROM payments");
    for (const role of ["noc", "compliance", "manager"] as const) {
      await expectCode(callerAs(role).payments.recordCash({ subscriberId: own[3]!, amount: "10", requestKey: key() }), "FORBIDDEN");
    }
    await expectCode(callerAs(null).payments.recordCash({ subscriberId: own[3]!, amount: "10", requestKey: key() }), "UNAUTHORIZED");
    for (const [amount, msg] of [
      ["-10", /negative/],
      ["10.001", /two decimals/],
      ["0", /more than zero/],
      ["1e9", /digits only/],
      ["99,999,999", /At most/],
    ] as const) {
      await expectCode(callerAs("support").payments.recordCash({ subscriberId: own[3]!, amount, requestKey: key() }), "BAD_REQUEST", msg);
    }
    await expectCode(callerAs("support").payments.recordCash({ subscriberId: own[3]!, amount: "10", requestKey: "x" }), "BAD_REQUEST");
    // A request key reused for a different payment is a conflict, not a silent duplicate.
    const k = key();
    await callerAs("support").payments.recordCash({ subscriberId: own[3]!, amount: "10", requestKey: k });
    await expectCode(callerAs("support").payments.recordCash({ subscriberId: own[3]!, amount: "11", requestKey: k }), "CONFLICT");
    expect(await count("SELECT count(*)::int AS n FROM payments")).toBe(before + 1);
  });

  it("a payment that clears the balance restores a suspended subscriber through the outbox", async () => {
    const sub = own[4]!;
    const rules = paymentRules();
    const inv = await createInvoice(tdb.prisma, pool, { subscriberId: sub, periodStart: "2026-09-01", dueOn: karachiDay(-15), lines: [{ description: "Fiber 20 Mbps", net: 300_000, tax: 58_500 }] });
    // The dunning run's evaluation, 15 days past due: the suspend step fires.
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      const [h] = await loadAccountHistories(c, [sub], { forUpdate: true });
      const e = rules.evaluate(h!, new Date());
      await writeDunning(c, e.dunning ? [e.dunning] : []);
      await c.query("COMMIT");
    } finally {
      c.release();
    }
    expect((await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: sub } })).status).toBe("suspended");
    expect(await count("SELECT count(*)::int AS n FROM enforcement_outbox WHERE subscriber_id = $1 AND kind = 'restore'", [sub])).toBe(0);

    const part = await callerAs("support").payments.recordCash({ subscriberId: sub, amount: "1000", requestKey: key() });
    expect(part).toMatchObject({ restored: false, balancePaisa: inv.totalPaisa - 100_000 });
    expect((await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: sub } })).status).toBe("suspended");

    const rest = await callerAs("support").payments.recordCash({ subscriberId: sub, amount: "2,585", requestKey: key() });
    expect(rest).toMatchObject({ restored: true, balancePaisa: 0 });
    expect((await tdb.prisma.subscriber.findUniqueOrThrow({ where: { id: sub } })).status).toBe("active");
    expect(await count("SELECT count(*)::int AS n FROM enforcement_outbox WHERE subscriber_id = $1 AND kind = 'restore' AND status = 'pending'", [sub])).toBe(1);
    expect(await count("SELECT count(*)::int AS n FROM audit_log WHERE action = 'subscriber.restore' AND entity_id = $1", [String(sub)])).toBe(1);
    expect((await tdb.prisma.invoice.findUniqueOrThrow({ where: { id: inv.id } })).status).toBe("paid");
  });
});

describe("payments.recordBank and payments.reverse", () => {
  it("staff record a bank transfer; support may not", async () => {
    await expectCode(callerAs("support").payments.recordBank({ subscriberId: own[1]!, amount: "10", reference: "HBL-1", requestKey: key() }), "FORBIDDEN");
    await expectCode(callerAs("dealer", ownDealerId).payments.recordBank({ subscriberId: own[1]!, amount: "10", reference: "HBL-1", requestKey: key() }), "FORBIDDEN");
    await expectCode(callerAs("manager").payments.recordBank({ subscriberId: own[1]!, amount: "10", reference: "  ", requestKey: key() }), "BAD_REQUEST");
    const r = await callerAs("manager").payments.recordBank({ subscriberId: own[1]!, amount: "750", reference: "HBL-FT-2026-0042", requestKey: key() });
    const row = await tdb.prisma.payment.findUniqueOrThrow({ where: { receiptNo: r.receiptNo } });
    expect(row).toMatchObject({ method: "bank_transfer", reference: "HBL-FT-2026-0042", operatorId: operatorIds.get("manager") });
    const tx = await pool.query<{ account: string; a: number }>(
      "SELECT e.account, e.amount_paisa::float8 AS a FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id WHERE t.key = $1 ORDER BY e.id",
      [`payment:${r.receiptNo}`],
    );
    expect(tx.rows).toEqual([
      { account: "bank", a: 75_000 },
      { account: `receivable:${own[1]}`, a: -75_000 },
    ]);
  });

  it("a reversal goes through the ledger: the row stays, the ledger balances, the balance is back", async () => {
    const sub = own[0]!;
    const before = await receivable(sub);
    const paid = await callerAs("support").payments.recordCash({ subscriberId: sub, amount: "400", requestKey: key() });
    expect(await receivable(sub)).toBe(before - 40_000);

    await expectCode(callerAs("support").payments.reverse({ receiptNo: paid.receiptNo, reason: "wrong account" }), "FORBIDDEN");
    await expectCode(callerAs("dealer", ownDealerId).payments.reverse({ receiptNo: paid.receiptNo, reason: "wrong account" }), "FORBIDDEN");
    await expectCode(callerAs("admin").payments.reverse({ receiptNo: paid.receiptNo, reason: " " }), "BAD_REQUEST");
    await expectCode(callerAs("admin").payments.reverse({ receiptNo: "RCT-1999-0000001", reason: "no such" }), "NOT_FOUND");

    const rev = await callerAs("manager").payments.reverse({ receiptNo: paid.receiptNo, reason: "recorded on the wrong account" });
    expect(rev).toMatchObject({ duplicate: false, balancePaisa: before, receiptNo: paid.receiptNo });
    expect(await receivable(sub)).toBe(before);
    const again = await callerAs("admin").payments.reverse({ receiptNo: paid.receiptNo, reason: "twice" });
    expect(again.duplicate).toBe(true);

    const p = await tdb.prisma.payment.findUniqueOrThrow({ where: { receiptNo: paid.receiptNo } });
    expect(p.reversedAt).not.toBeNull();
    expect(p.reversalReason).toBe("recorded on the wrong account");
    expect(await count("SELECT count(*)::int AS n FROM ledger_transactions WHERE key IN ($1, $2)", [`payment:${paid.receiptNo}`, `reversal:payment:${paid.receiptNo}`])).toBe(2);
    // Every transaction balances, and the payment + its reversal net to zero on every account.
    expect(await count("SELECT count(*)::int AS n FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount_paisa) <> 0) x")).toBe(0);
    const net = await pool.query<{ account: string; s: number }>(
      `SELECT e.account, sum(e.amount_paisa)::float8 AS s FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
       WHERE t.key IN ($1, $2) GROUP BY 1`,
      [`payment:${paid.receiptNo}`, `reversal:payment:${paid.receiptNo}`],
    );
    expect(net.rows.every((r) => r.s === 0)).toBe(true);
    const audit = await pool.query("SELECT actor, details FROM audit_log WHERE action = 'payment.reverse' AND details->>'receiptNo' = $1", [paid.receiptNo]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]).toMatchObject({ actor: "manager", details: { reason: "recorded on the wrong account", amountPaisa: 40_000 } });

    // The account view shows it reversed.
    const a = await callerAs("support").accounts.subscriber({ subscriberId: sub });
    expect(a.payments.find((x) => x.receiptNo === paid.receiptNo)).toMatchObject({ reversed: true });
    expect(a.balancePaisa).toBe(before);
  });
});
