// accounts.* against a real, migrated and seeded PostgreSQL (TEST_DATABASE_URL): rows are
// written the way the runs write them (billing-store), the procedures only read.
import { insertLedgerTransactions, insertPayment, markPaymentReversed } from "@isp/db/billing-store";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

let tdb: TestDatabase;
let pool: pg.Pool;
let ownDealerId: number;
let otherDealerId: number;
let ownSubscriber: number;
let otherSubscriber: number;

function callerAs(role: OperatorRole | null, dealerId: number | null = null) {
  const operator = role ? { id: 1, username: role, name: role, role, dealerId } : null;
  return createCaller({ operator, db: () => tdb.prisma });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

async function invoice(subscriberId: number, periodStart: string, seq: number, lines: { net: number; tax: number }[]) {
  const net = lines.reduce((a, l) => a + l.net, 0);
  const tax = lines.reduce((a, l) => a + l.tax, 0);
  const start = new Date(`${periodStart}T00:00:00Z`);
  const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 0));
  const due = new Date(start.getTime() + 10 * 86_400_000);
  await tdb.prisma.invoice.create({
    data: {
      number: `INV-2026-${String(seq).padStart(7, "0")}`,
      subscriberId,
      periodStart: start,
      periodEnd: end,
      dueDate: due,
      issuedOn: start,
      series: "INV-2026",
      seq,
      netPaisa: BigInt(net),
      taxPaisa: BigInt(tax),
      totalPaisa: BigInt(net + tax),
      lines: {
        create: lines.map((l, i) => ({
          position: i + 1,
          kind: "subscription",
          description: `Line ${i + 1}`,
          revenueAccount: "revenue:service",
          chargedPaisa: BigInt(l.net),
          discountPaisa: 0n,
          netPaisa: BigInt(l.net),
          taxPaisa: BigInt(l.tax),
          totalPaisa: BigInt(l.net + l.tax),
          taxes: [{ ruleId: "sst-sindh", account: "tax:sst-sindh", rateBasisPoints: 1950, inclusive: false, amountPaisa: l.tax }],
        })),
      },
    },
  });
  await insertLedgerTransactions(pool, [
    {
      key: `invoice:${subscriberId}:${periodStart}`,
      kind: "invoice",
      subscriberId,
      occurredOn: periodStart,
      entries: [
        { account: `receivable:${subscriberId}`, amountPaisa: net + tax },
        { account: "revenue:service", amountPaisa: -net },
        { account: "tax:sst-sindh", amountPaisa: -tax },
      ],
    },
  ]);
}

async function payment(subscriberId: number, receiptNo: string, amount: number, on: string) {
  await insertPayment(pool, { subscriberId, receiptNo, amountPaisa: amount, method: "cash", receivedAt: new Date(`${on}T10:00:00Z`), operatorId: null });
  await insertLedgerTransactions(pool, [
    {
      key: `payment:${receiptNo}`,
      kind: "payment",
      subscriberId,
      occurredOn: on,
      entries: [
        { account: "cash", amountPaisa: amount },
        { account: `receivable:${subscriberId}`, amountPaisa: -amount },
      ],
    },
  ]);
}

function walletTx(key: string, kind: string, dealerId: number, on: string, walletPaisa: number, subscriberId: number | null = null) {
  // walletPaisa is from the dealer's side (+ raises the wallet); the account is credit-normal.
  // A real recharge also posts its receipt, which nets the subscriber's receivable to zero;
  // only the wallet side matters here, so the recharge's other leg is revenue.
  const other = kind === "wallet_topup" ? "bank" : kind === "commission" ? "expense:commission" : "revenue:service";
  return { key, kind, subscriberId, occurredOn: on, entries: [{ account: `dealer-wallet:${dealerId}`, amountPaisa: -walletPaisa }, { account: other, amountPaisa: walletPaisa }] };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 30 });
  pool = new pg.Pool({ connectionString: tdb.url, max: 2 });
  const dealer = await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "dealer" } });
  ownDealerId = dealer.dealerId!;
  ownSubscriber = (await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: ownDealerId }, orderBy: { id: "asc" } })).id;
  const other = await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: { not: ownDealerId, gt: 0 } }, orderBy: { id: "asc" } });
  otherSubscriber = other.id;
  otherDealerId = other.dealerId!;

  await invoice(ownSubscriber, "2026-09-01", 1, [{ net: 200_000, tax: 39_000 }]);
  await invoice(ownSubscriber, "2026-10-01", 2, [
    { net: 200_000, tax: 39_000 },
    { net: 50_050, tax: 9_760 },
  ]);
  await tdb.prisma.invoice.update({ where: { number: "INV-2026-0000001" }, data: { status: "paid" } });
  await payment(ownSubscriber, "R-1", 239_000, "2026-09-05");
  await payment(ownSubscriber, "R-2", 100_000, "2026-10-03");
  await markPaymentReversed(pool, "R-2", "cheque bounced");
  await insertLedgerTransactions(pool, [
    {
      key: "reversal:payment:R-2",
      kind: "reversal",
      subscriberId: ownSubscriber,
      occurredOn: "2026-10-06",
      entries: [
        { account: "cash", amountPaisa: -100_000 },
        { account: `receivable:${ownSubscriber}`, amountPaisa: 100_000 },
      ],
    },
  ]);
  await tdb.prisma.dunningState.create({
    data: {
      subscriberId: ownSubscriber,
      state: "throttled",
      access: "throttled",
      record: { invoiceId: `${ownSubscriber}:2026-10-01`, generation: 1, state: "throttled", access: "throttled", firedSteps: ["remind-before", "remind-due", "throttle"] },
    },
  });

  await insertLedgerTransactions(pool, [
    walletTx("wallet_topup:T1", "wallet_topup", ownDealerId, "2026-09-20", 1_000_000),
    walletTx("dealer_recharge:C1", "dealer_recharge", ownDealerId, "2026-09-28", -300_000, ownSubscriber),
    walletTx("wallet_topup:T2", "wallet_topup", ownDealerId, "2026-10-02", 500_000),
    walletTx("dealer_recharge:C2", "dealer_recharge", ownDealerId, "2026-10-10", -250_050, ownSubscriber),
    walletTx(`commission:C2:${ownDealerId}`, "commission", ownDealerId, "2026-10-10", 12_503),
    walletTx("wallet_topup:T3", "wallet_topup", ownDealerId, "2026-11-02", 70_000),
    walletTx("wallet_topup:X1", "wallet_topup", otherDealerId, "2026-10-05", 999_900),
  ]);
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe("accounts.subscriber", () => {
  it("derives the balance from the receivable entries and shows invoices, lines, payments and dunning", async () => {
    const a = await callerAs("support").accounts.subscriber({ subscriberId: ownSubscriber });
    const sum = await pool.query<{ s: string }>("SELECT sum(amount_paisa)::text AS s FROM ledger_entries WHERE account = $1", [`receivable:${ownSubscriber}`]);
    expect(a.balancePaisa).toBe(Number(sum.rows[0]!.s));
    expect(a.balancePaisa).toBe(239_000 + 298_810 - 239_000 - 100_000 + 100_000);
    expect(a.ledger).toHaveLength(5);
    expect(a.ledger[0]!.balancePaisa).toBe(a.balancePaisa); // newest first, running balance ends at the balance
    const debits = a.ledger.reduce((s, r) => s + r.debitPaisa, 0);
    const credits = a.ledger.reduce((s, r) => s + r.creditPaisa, 0);
    expect(debits - credits).toBe(a.balancePaisa);
    expect(a.ledger.find((r) => r.kind === "invoice")?.description).toMatch(/^Invoice INV-2026-000000[12]$/);

    expect(a.invoices.map((i) => i.number)).toEqual(["INV-2026-0000002", "INV-2026-0000001"]);
    expect(a.openInvoices.map((i) => i.number)).toEqual(["INV-2026-0000002"]);
    const inv = a.invoices[0]!;
    expect(inv.lines.map((l) => l.totalPaisa).reduce((x, y) => x + y, 0)).toBe(inv.totalPaisa);
    expect(inv.lines[1]!.taxes).toEqual([{ ruleId: "sst-sindh", amountPaisa: 9_760, rateBasisPoints: 1950, inclusive: false }]);

    expect(a.payments.map((p) => [p.receiptNo, p.method, p.reversed])).toEqual([
      ["R-2", "cash", true],
      ["R-1", "cash", false],
    ]);
    expect(a.dunning).toMatchObject({ state: "throttled", access: "throttled", currentStep: "throttle", invoiceKey: `${ownSubscriber}:2026-10-01` });
  });

  it("an unbilled subscriber has a zero balance and empty lists", async () => {
    const a = await callerAs("manager").accounts.subscriber({ subscriberId: otherSubscriber });
    expect(a).toMatchObject({ balancePaisa: 0, invoices: [], openInvoices: [], payments: [], ledger: [], dunning: null });
  });

  it("a dealer reads their own subscriber; another dealer's is NOT_FOUND, like a missing one", async () => {
    const own = await callerAs("dealer", ownDealerId).accounts.subscriber({ subscriberId: ownSubscriber });
    expect(own.subscriberId).toBe(ownSubscriber);
    await expectCode(callerAs("dealer", ownDealerId).accounts.subscriber({ subscriberId: otherSubscriber }), "NOT_FOUND");
    await expectCode(callerAs("dealer", otherDealerId).accounts.subscriber({ subscriberId: ownSubscriber }), "NOT_FOUND");
    await expectCode(callerAs("dealer", null).accounts.subscriber({ subscriberId: ownSubscriber }), "NOT_FOUND");
    await expectCode(callerAs("admin").accounts.subscriber({ subscriberId: 9_999_999 }), "NOT_FOUND");
  });

  it("refuses roles without account access", async () => {
    await expectCode(callerAs(null).accounts.subscriber({ subscriberId: ownSubscriber }), "UNAUTHORIZED");
    await expectCode(callerAs("noc").accounts.subscriber({ subscriberId: ownSubscriber }), "FORBIDDEN");
    await expectCode(callerAs("compliance").accounts.subscriber({ subscriberId: ownSubscriber }), "FORBIDDEN");
  });
});

describe("accounts.dealerStatement", () => {
  it("opening + movements = closing, from the dealer's own wallet only", async () => {
    const s = await callerAs("dealer", ownDealerId).accounts.dealerStatement({ from: "2026-10-01", to: "2026-10-31" });
    expect(s.dealerId).toBe(ownDealerId);
    expect(s.openingPaisa).toBe(1_000_000 - 300_000);
    expect(s.movements.map((m) => [m.kind, m.amountPaisa])).toEqual([
      ["wallet_topup", 500_000],
      ["dealer_recharge", -250_050],
      ["commission", 12_503],
    ]);
    expect(s.openingPaisa + s.movements.reduce((a, m) => a + m.amountPaisa, 0)).toBe(s.closingPaisa);
    expect(s.closingPaisa).toBe(700_000 + 500_000 - 250_050 + 12_503);
    expect(s.movements.at(-1)!.balanceAfterPaisa).toBe(s.closingPaisa);
    expect(s.truncated).toBe(false);
    // The wallet as the ledger holds it, over all time: matches the statement run to the last movement.
    const all = await callerAs("dealer", ownDealerId).accounts.dealerStatement({ from: "2026-01-01", to: "2026-12-31" });
    const wallet = await pool.query<{ s: string }>("SELECT (-sum(amount_paisa))::text AS s FROM ledger_entries WHERE account = $1", [`dealer-wallet:${ownDealerId}`]);
    expect(all.closingPaisa).toBe(Number(wallet.rows[0]!.s));
    expect(all.openingPaisa).toBe(0);
  });

  it("scopes dealers to their own wallet; admin/manager pick one", async () => {
    await expectCode(callerAs("dealer", ownDealerId).accounts.dealerStatement({ from: "2026-10-01", to: "2026-10-31", dealerId: otherDealerId }), "FORBIDDEN");
    const other = await callerAs("admin").accounts.dealerStatement({ from: "2026-10-01", to: "2026-10-31", dealerId: otherDealerId });
    expect(other.movements.map((m) => m.amountPaisa)).toEqual([999_900]);
    await expectCode(callerAs("manager").accounts.dealerStatement({ from: "2026-10-01", to: "2026-10-31" }), "BAD_REQUEST");
    await expectCode(callerAs("support").accounts.dealerStatement({ from: "2026-10-01", to: "2026-10-31", dealerId: ownDealerId }), "FORBIDDEN");
    await expectCode(callerAs("admin").accounts.dealerStatement({ from: "2026-10-31", to: "2026-10-01", dealerId: ownDealerId }), "BAD_REQUEST");
    await expectCode(callerAs("admin").accounts.dealerStatement({ from: "2026-02-30", to: "2026-10-01", dealerId: ownDealerId }), "BAD_REQUEST");
    await expectCode(callerAs("admin").accounts.dealerStatement({ from: "2026-10-01", to: "2026-10-31", dealerId: 9_999_999 }), "NOT_FOUND");
  });
});
