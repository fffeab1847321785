// Proration of plan changes and terminations against PostgreSQL: the actions go through
// the real requestEnforcement statement; their audit rows are then dated into February /
// January 2026 (the test cannot wait for the calendar), and the run invoices are dated to
// their run (the 1st, 02:00 Karachi), so "invoiced before the action" holds as in production.
import { addDays, toDate } from "@isp/billing/cycles";
import { buildInvoice, prorationCharges } from "@isp/billing/invoice";
import { paymentRules } from "@isp/billing/account";
import { prorate, prorateChange, prorateTermination } from "@isp/billing/proration";
import { pakistanInternetTaxRulesExample } from "@isp/billing/tax";
import { processAdjustment, pendingAdjustments } from "@isp/db/billing-adjustments";
import { loadAccountHistories } from "@isp/db/billing-store";
import { type RawQueryable, requestEnforcement } from "@isp/db/outbox";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdjustments } from "./adjustments";
import { runBilling } from "./billing-run";
import { runDunning } from "./dunning-run";

const wide = { lookbackDays: 3650, overlapMinutes: 60 * 24 * 3650 };

describe("proration of plan changes and terminations", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let raw: RawQueryable;
  const plan: Record<string, { id: number; name: string; price: number }> = {};
  const sub: Record<string, number> = {};
  const q = async <T extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, args)).rows;

  /** A real change_plan / terminate, its audit row then dated to `at`. */
  const act = async (name: string, kind: "change_plan" | "terminate" | "suspend", at: string, to?: string) => {
    const { actionId } = await requestEnforcement(raw, { kind, subscriberId: sub[name]!, planId: to ? plan[to]!.id : undefined, operatorId: null, actor: "support1" });
    await q(`UPDATE audit_log SET at = $2 WHERE details->>'actionId' = $1 AND action LIKE 'subscriber.%'`, [actionId, at]);
    return actionId;
  };
  /** A billing run of `month`, its invoices dated to 02:00 on the 1st in Karachi. */
  const bill = async (month: string) => {
    await runBilling(pool, { periodStart: month });
    await q(`UPDATE invoices SET issued_at = ($1::date + time '02:00') AT TIME ZONE 'Asia/Karachi' WHERE period_start = $1::date AND source IS NULL`, [month]);
  };
  const docOf = (source: string) =>
    q<{ number: string; kind: string; ps: string; pe: string; issued: string; due: string; net: number; tax: number; total: number; lines: { d: string; c: number; n: number; t: number }[] }>(
      `SELECT number, kind::text, period_start::text AS ps, period_end::text AS pe, issued_on::text AS issued, due_date::text AS due,
              net_paisa::float8 AS net, tax_paisa::float8 AS tax, total_paisa::float8 AS total,
              (SELECT json_agg(json_build_object('d', description, 'c', charged_paisa, 'n', net_paisa, 't', total_paisa) ORDER BY position)
                 FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines
         FROM invoices i WHERE source = $1`,
      [source],
    ).then((r) => r[0]);
  const expected = (subscriberId: number, source: string, result: ReturnType<typeof prorateChange>, issuedOn: string) =>
    buildInvoice({
      invoiceId: `${subscriberId}:${source}`,
      subscriberId: String(subscriberId),
      region: "sindh",
      issuedOn,
      dueOn: addDays(toDate(issuedOn), 10),
      charges: prorationCharges(result),
      taxRules: pakistanInternetTaxRulesExample,
    });
  const feb = { index: 0, start: toDate("2026-02-01"), end: toDate("2026-03-01") };
  const jan = { index: 0, start: toDate("2026-01-01"), end: toDate("2026-02-01") };
  const priced = (code: string) => ({ name: plan[code]!.name, pricePaisa: plan[code]!.price });

  const actions: Record<string, string> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 6 });
    pool.on("error", () => undefined);
    raw = { $queryRawUnsafe: (async (sql: string, ...args: unknown[]) => (await pool.query(sql, args)).rows) as RawQueryable["$queryRawUnsafe"] };
    for (const [code, name, price, cycle] of [
      ["A", "Basic 10", 300000, "monthly"],
      ["B", "Fast 20", 500000, "monthly"],
      ["C", "Ultra 50", 800000, "monthly"],
      ["Q", "Quarterly 20", 900000, "quarterly"],
    ] as const) {
      const r = await q<{ id: number }>(
        `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, billing_cycle) VALUES ($1, $2, 10240, 2048, $3, $4::billing_cycle) RETURNING id`,
        [code, name, price, cycle],
      );
      plan[code] = { id: r[0]!.id, name, price };
    }
    for (const [i, [name, code]] of (
      [
        ["upgrade", "A"],
        ["monthEnd", "A"],
        ["downgrade", "C"],
        ["twice", "A"],
        ["terminate", "A"],
        ["early", "A"],
        ["cycle", "A"],
        ["suspendOnly", "A"],
      ] as const
    ).entries()) {
      const r = await q<{ id: number }>(
        `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, status, pppoe_username, pppoe_password, created_at)
         VALUES ($1, $2, '0300-0000000', '42101-0000000-1', 'Street 1', 'Karachi', $3, 'active', $1, 'secret-1', '2025-11-01T09:00:00+05') RETURNING id`,
        [`ADJ-${i}`, name, plan[code]!.id],
      );
      sub[name] = r[0]!.id;
    }
    await bill("2026-01-01");
    await bill("2026-02-01");
    actions.monthEnd = await act("monthEnd", "change_plan", "2026-01-31T18:00:00+05", "C"); // last day of January: 1/31
    actions.upgrade = await act("upgrade", "change_plan", "2026-02-10T10:00:00+05", "B"); // 19/28 of February
    // 19:30Z on 14 Feb is 00:30 on 15 Feb in Karachi: 14/28 days.
    actions.downgrade = await act("downgrade", "change_plan", "2026-02-14T19:30:00Z", "A");
    actions.twice1 = await act("twice", "change_plan", "2026-02-05T12:00:00+05", "B");
    actions.twice2 = await act("twice", "change_plan", "2026-02-20T12:00:00+05", "C");
    actions.terminate = await act("terminate", "terminate", "2026-02-21T12:00:00+05");
    actions.terminateAgain = await act("terminate", "terminate", "2026-02-22T12:00:00+05");
    actions.cycle = await act("cycle", "change_plan", "2026-02-12T12:00:00+05", "Q");
    actions.suspend = await act("suspendOnly", "suspend", "2026-02-12T12:00:00+05");
    // Changed on 1 March before March's run: the run bills the new plan, nothing to prorate.
    actions.early = await act("early", "change_plan", "2026-03-01T01:00:00+05", "B");
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("posts each action once, with the pure functions' amounts", async () => {
    // A crash inside an action's transaction (here: the rules throw) leaves nothing behind.
    const [first] = await pendingAdjustments(pool, { limit: 1, settleSeconds: 60, ...wide });
    expect(first).toBeDefined();
    await expect(processAdjustment(pool, first!, { decide: () => { throw new Error("crash"); } })).rejects.toThrow("crash");
    expect(await q(`SELECT 1 FROM billing_adjustments`)).toHaveLength(0);

    // Two passes race: the subscriber lock and the action-id key post everything once.
    const [r1, r2] = await Promise.all([runAdjustments(pool, wide), runAdjustments(pool, wide)]);
    expect(r1.processed + r2.processed).toBe(9);
    expect(r1.invoices + r2.invoices).toBe(4); // monthEnd, upgrade, twice x2
    expect(r1.creditNotes + r2.creditNotes).toBe(2); // downgrade, terminate
    const again = await runAdjustments(pool, wide);
    expect(again.processed).toBe(0);
    expect(await q(`SELECT 1 FROM billing_adjustments`)).toHaveLength(9);
  }, 60_000);

  it("upgrade in February: credit 19/28 of the old plan, charge 19/28 of the new one, taxed per line", async () => {
    const doc = await docOf(`plan_change:${actions.upgrade}`);
    const result = prorateChange({ period: feb, from: priced("A"), to: priced("B"), effectiveOn: "2026-02-10" });
    expect(result.lines.map((l) => l.amountPaisa)).toEqual([-203571, 339286]); // 300000·19/28, 500000·19/28
    const want = expected(sub.upgrade!, `plan_change:${actions.upgrade}`, result, "2026-02-10");
    expect(doc).toMatchObject({ kind: "invoice", ps: "2026-02-10", pe: "2026-02-28", issued: "2026-02-10", due: "2026-02-20", net: 135715 });
    expect(doc!.total).toBe(want.totals.totalPaisa);
    expect(doc!.tax).toBe(want.totals.taxPaisa);
    expect(doc!.lines.map((l) => l.t)).toEqual(want.lines.map((l) => l.totalPaisa));
    expect(doc!.lines[1]!.d).toBe("Upgrade to Fast 20, 2026-02-10 to 2026-02-28 (19/28 days)");
    expect(doc!.number).toMatch(/^INV-2026-\d{7}$/);
  });

  it("change on the last day of January: 1/31", async () => {
    const doc = await docOf(`plan_change:${actions.monthEnd}`);
    const result = prorateChange({ period: jan, from: priced("A"), to: priced("C"), effectiveOn: "2026-01-31" });
    expect(result.lines.map((l) => l.amountPaisa)).toEqual([-prorate(300000, 1, 31), prorate(800000, 1, 31)]);
    expect(result.lines.map((l) => l.amountPaisa)).toEqual([-9677, 25806]);
    expect(doc).toMatchObject({ kind: "invoice", ps: "2026-01-31", pe: "2026-01-31", net: 16129 });
    expect(doc!.total).toBe(expected(sub.monthEnd!, `plan_change:${actions.monthEnd}`, result, "2026-01-31").totals.totalPaisa);
  });

  it("downgrade: a credit note, Karachi date of the action", async () => {
    const doc = await docOf(`plan_change:${actions.downgrade}`);
    const result = prorateChange({ period: feb, from: priced("C"), to: priced("A"), effectiveOn: "2026-02-15" });
    expect(result.creditNoteDue).toBe(true);
    const want = expected(sub.downgrade!, `plan_change:${actions.downgrade}`, result, "2026-02-15");
    expect(doc).toMatchObject({ kind: "credit_note", ps: "2026-02-15", issued: "2026-02-15", due: "2026-02-15", net: -250000 }); // (300000-800000)·14/28
    expect(doc!.total).toBe(want.totals.totalPaisa);
    expect(doc!.total).toBeLessThan(0);
    expect(doc!.number).toMatch(/^CN-2026-000000[12]$/); // gap-free series checked below
  });

  it("two changes in one period chain: the second credits the plan the first put in force", async () => {
    const d1 = await docOf(`plan_change:${actions.twice1}`);
    const d2 = await docOf(`plan_change:${actions.twice2}`);
    const r1 = prorateChange({ period: feb, from: priced("A"), to: priced("B"), effectiveOn: "2026-02-05" });
    const r2 = prorateChange({ period: feb, from: priced("B"), to: priced("C"), effectiveOn: "2026-02-20" });
    expect(d1!.lines.map((l) => l.c)).toEqual(r1.lines.map((l) => l.amountPaisa));
    expect(d2!.lines.map((l) => l.c)).toEqual(r2.lines.map((l) => l.amountPaisa));
    expect(d2!.lines[0]!.d).toContain("Credit: unused Fast 20");
    // February net: A for days 1-4, B for 5-19, C for 20-28, within a paisa per line.
    const net = 300000 + d1!.net + d2!.net;
    expect(Math.abs(net - (300000 * 4 + 500000 * 15 + 800000 * 9) / 28)).toBeLessThanOrEqual(2);
  });

  it("termination: a credit note for the unused days; terminating again credits nothing", async () => {
    const doc = await docOf(`termination:${actions.terminate}`);
    const result = prorateTermination({ period: feb, plan: priced("A"), terminatedOn: "2026-02-21" });
    expect(result.lines.map((l) => l.amountPaisa)).toEqual([-prorate(300000, 8, 28)]);
    expect(doc).toMatchObject({ kind: "credit_note", ps: "2026-02-21", net: -85714 });
    expect(doc!.total).toBe(expected(sub.terminate!, `termination:${actions.terminate}`, result, "2026-02-21").totals.totalPaisa);
    const rows = await q<{ action_id: string; outcome: string; note: string | null }>(`SELECT action_id::text, outcome, note FROM billing_adjustments ORDER BY action_id`);
    const by = new Map(rows.map((r) => [r.action_id, r]));
    expect(by.get(actions.terminateAgain!)).toMatchObject({ outcome: "none", note: "already terminated" });
    expect(by.get(actions.cycle!)).toMatchObject({ outcome: "none" });
    expect(by.get(actions.cycle!)!.note).toContain("billing cycle");
    expect(by.get(actions.early!)!.note).toContain("no billing-run invoice");
    expect(by.has(actions.suspend!)).toBe(false); // suspend/restore do not prorate
  });

  it("the next run bills the new plan once, numbers stay gap-free, the ledger balances and balances derive", async () => {
    await bill("2026-03-01");
    const march = await q<{ net: number; n: number }>(
      `SELECT net_paisa::float8 AS net, count(*) OVER ()::int AS n FROM invoices WHERE subscriber_id = $1 AND period_start >= '2026-03-01'`,
      [sub.early],
    );
    expect(march).toEqual([{ net: 500000, n: 1 }]);
    expect((await runAdjustments(pool, wide)).processed).toBe(0);

    const series = await q<{ series: string; n: number; max: number; last: number }>(
      `SELECT i.series, count(*)::int AS n, max(seq) AS max, c.last_seq AS last FROM invoices i JOIN invoice_counters c USING (series) GROUP BY i.series, c.last_seq ORDER BY 1`,
    );
    for (const s of series) expect([s.n, s.max]).toEqual([s.last, s.last]);
    expect(series.find((s) => s.series === "CN-2026")?.n).toBe(2);
    expect(await q(`SELECT 1 FROM invoices GROUP BY source HAVING source IS NOT NULL AND count(*) > 1`)).toHaveLength(0);

    const unbalanced = await q(`SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING sum(amount_paisa) <> 0`);
    expect(unbalanced).toHaveLength(0);
    expect((await q<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_transactions WHERE key LIKE '%:plan_change:%' OR key LIKE '%:termination:%'`))[0]!.n).toBe(6);
    for (const [name, id] of Object.entries(sub)) {
      const [ledger] = await q<{ b: number; docs: number }>(
        `SELECT (SELECT coalesce(sum(amount_paisa), 0)::float8 FROM ledger_entries WHERE account = $2) AS b,
                (SELECT coalesce(sum(total_paisa), 0)::float8 FROM invoices WHERE subscriber_id = $1) AS docs`,
        [id, `receivable:${id}`],
      );
      expect(ledger!.b, name).toBe(ledger!.docs);
      const [h] = await loadAccountHistories(pool, [id]);
      expect(paymentRules().evaluate(h!, new Date("2026-03-05T12:00:00+05:00")).balancePaisa, name).toBe(ledger!.b);
    }
    // The dunning run reads adjustment keys (`<sub>:plan_change:<id>`) and writes their statuses.
    await runDunning(pool, { now: new Date("2026-03-05T12:00:00+05:00") });
    const statuses = await q<{ status: string }>(`SELECT status::text FROM invoices WHERE source IS NOT NULL AND kind = 'invoice'`);
    expect(statuses).toHaveLength(4);
  }, 60_000);
});
