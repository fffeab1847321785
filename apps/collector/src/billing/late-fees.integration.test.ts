// Late fees in the dunning run against PostgreSQL: percentage / fixed rules after N days
// overdue (Karachi business days), at most once per invoice, through the ledger, visible to
// the balance and allocation like any other debit.
import { lateFeeAmount } from "@isp/billing/late-fee";
import { insertPayment } from "@isp/db/billing-store";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBilling } from "./billing-run";
import type { BillingConfig } from "./config";
import { runDunning } from "./dunning-run";

describe("late fees in the dunning run", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let pct: number;
  let fixed: number;
  const subs: Record<string, number> = {};
  const q = async <T extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, args)).rows;
  const percentage = { kind: "percentage", afterDays: 3, basisPoints: 500, minPaisa: 10_000, maxPaisa: 50_000 } as const;
  const flat = { kind: "fixed", afterDays: 5, amountPaisa: 20_000 } as const;
  const config = (): Partial<BillingConfig> => ({ lateFeeFor: (planId) => (planId === pct ? percentage : planId === fixed ? flat : null) });
  const fees = () =>
    q<{ sub: number; number: string; ps: string; issued: string; total: string; line: string }>(
      `SELECT i.subscriber_id AS sub, i.number, i.period_start::text AS ps, i.issued_on::text AS issued, i.total_paisa::text AS total,
              (SELECT kind || '/' || revenue_account FROM invoice_lines l WHERE l.invoice_id = i.id) AS line
       FROM invoices i WHERE series LIKE 'FEE-%' ORDER BY seq`,
    );
  const receivable = async (sub: number) => Number((await q<{ b: string }>(`SELECT coalesce(sum(amount_paisa), 0)::text AS b FROM ledger_entries WHERE account = $1`, [`receivable:${sub}`]))[0]!.b);

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pool.on("error", () => undefined);
    const plans = await q<{ id: number; code: string }>(
      `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa) VALUES
         ('PCT', 'Home 10', 10240, 2048, 400000), ('FIX', 'Home 20', 20480, 4096, 600000), ('NONE', 'Staff', 10240, 2048, 100000)
       RETURNING id, code`,
    );
    pct = plans.find((p) => p.code === "PCT")!.id;
    fixed = plans.find((p) => p.code === "FIX")!.id;
    const none = plans.find((p) => p.code === "NONE")!.id;
    for (const [name, plan] of [["unpaid", pct], ["partly", pct], ["paid", pct], ["fixed", fixed], ["staff", none]] as const) {
      const r = await q<{ id: number }>(
        `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, status, pppoe_username, pppoe_password, created_at)
         VALUES ($1, $1, '0300-0000000', '42101-0000000-1', 'Street 1', 'Lahore', $2, 'active', $1, 'secret-1', '2026-06-15T10:00:00+05') RETURNING id`,
        [`LF-${name}`, plan],
      );
      subs[name] = r[0]!.id;
    }
    await runBilling(pool, { periodStart: "2026-12-01" }); // due 2026-12-11
    const total = async (sub: number) => Number((await q<{ t: string }>(`SELECT total_paisa::text AS t FROM invoices WHERE subscriber_id = $1`, [sub]))[0]!.t);
    const at = new Date("2026-12-05T10:00:00+05:00");
    await insertPayment(pool, { subscriberId: subs.partly!, receiptNo: "LF-1", amountPaisa: (await total(subs.partly!)) - 150_000, method: "cash", receivedAt: at, operatorId: null });
    await insertPayment(pool, { subscriberId: subs.paid!, receiptNo: "LF-2", amountPaisa: await total(subs.paid!), method: "cash", receivedAt: at, operatorId: null });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("nothing before the rule's day; the Karachi date decides (00:30 on the 14th is 3 days overdue)", async () => {
    const r = await runDunning(pool, { now: new Date("2026-12-13T18:30:00Z"), config: config() }); // 23:30 on the 13th in Karachi
    expect(r.lateFees).toBe(0);
    expect(await fees()).toEqual([]);
    const balance = await receivable(subs.unpaid!);
    const r2 = await runDunning(pool, { now: new Date("2026-12-13T19:30:00Z"), config: config() }); // 00:30 on the 14th
    expect(r2.lateFees).toBe(2);
    const unpaidFee = lateFeeAmount(percentage, balance); // 5% of 4,000 + tax, capped at 500
    const partlyFee = lateFeeAmount(percentage, 150_000); // 5% of 1,500 = 75, raised to the 100 minimum
    expect(unpaidFee).toBe(Math.min(50_000, Math.round(balance * 0.05)));
    expect(partlyFee).toBe(10_000);
    expect(await fees()).toEqual([
      { sub: subs.unpaid, number: "FEE-2026-0000001", ps: "2026-12-31", issued: "2026-12-14", total: String(unpaidFee), line: "late_fee/revenue:fees" },
      { sub: subs.partly, number: "FEE-2026-0000002", ps: "2026-12-31", issued: "2026-12-14", total: String(partlyFee), line: "late_fee/revenue:fees" },
    ]);
    expect(await receivable(subs.unpaid!)).toBe(balance + unpaidFee);
    expect(await q(`SELECT key FROM ledger_transactions WHERE key LIKE 'late_fee:%' ORDER BY key`)).toEqual(
      [subs.unpaid, subs.partly].map((s) => ({ key: `late_fee:${s}:2026-12-01` })).sort((a, b) => a.key.localeCompare(b.key)),
    );
  });

  it("at most once per invoice: re-runs and later days charge nothing more; the fixed rule waits its 5 days", async () => {
    expect((await runDunning(pool, { now: new Date("2026-12-14T06:00:00Z"), config: config() })).lateFees).toBe(0);
    const r = await runDunning(pool, { now: new Date("2026-12-16T06:00:00Z"), config: config() });
    expect(r.lateFees).toBe(1); // the fixed-fee subscriber, 5 days overdue
    expect((await runDunning(pool, { now: new Date("2026-12-20T06:00:00Z"), config: config() })).lateFees).toBe(0);
    const all = await fees();
    expect(all.map((f) => [f.sub, f.total])).toEqual([
      [subs.unpaid, all[0]!.total],
      [subs.partly, "10000"],
      [subs.fixed, "20000"],
    ]);
    expect(all.map((f) => f.number)).toEqual(["FEE-2026-0000001", "FEE-2026-0000002", "FEE-2026-0000003"]);
    expect(await q(`SELECT last_seq FROM invoice_counters WHERE series = 'FEE-2026'`)).toEqual([{ last_seq: 3 }]);
    expect(await q(`SELECT entity_id, details->>'number' AS number FROM audit_log WHERE action = 'invoice.late_fee' ORDER BY id`)).toEqual(
      all.map((f) => ({ entity_id: String(f.sub), number: f.number })),
    );
    // Paid accounts and plans without a rule: no fee.
    expect(all.some((f) => f.sub === subs.paid || f.sub === subs.staff)).toBe(false);
    expect(await q(`SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount_paisa) <> 0`)).toEqual([]);
    // The books agree: receivables = documents - payments; fees are revenue:fees.
    const [sums] = await q<{ docs: string; pays: string; rec: string; fees: string; feeDocs: string }>(
      `SELECT (SELECT sum(total_paisa) FROM invoices)::text AS docs, (SELECT sum(amount_paisa) FROM payments)::text AS pays,
              (SELECT sum(amount_paisa) FROM ledger_entries WHERE account LIKE 'receivable:%')::text AS rec,
              (SELECT -sum(amount_paisa) FROM ledger_entries WHERE account = 'revenue:fees')::text AS fees,
              (SELECT sum(total_paisa) FROM invoices WHERE series LIKE 'FEE-%')::text AS "feeDocs"`,
    );
    // Payments were inserted without their ledger rows here, so receivables = all documents.
    expect(sums?.rec).toBe(sums?.docs);
    expect(sums?.fees).toBe(sums?.feeDocs);
  });

  it("a late fee is a debit like any other: paying the invoice alone leaves the fee open", async () => {
    const [fee] = await q<{ ps: string; status: string }>(
      `SELECT period_start::text AS ps, status::text FROM invoices WHERE series LIKE 'FEE-%' AND subscriber_id = $1`,
      [subs.partly],
    );
    expect(fee?.status).toBe("open");
    const states = await q<{ state: string }>(`SELECT state FROM dunning_state WHERE subscriber_id = $1`, [subs.partly]);
    expect(states[0]?.state).not.toBe("current");
  });
  it("a dunning run aborted mid-way (chunks in flight on 2 connections) resumes without emitting twice", async () => {
    const now = new Date("2026-12-22T06:00:00Z"); // 11 days past due: suspend
    let events = 0;
    await expect(
      runDunning(pool, {
        now,
        config: { ...config(), chunkSize: 1 },
        parallel: 2,
        onProgress: () => {
          if (++events === 1) throw new Error("crash after the first progress event");
        },
      }),
    ).rejects.toThrow("crash after the first progress event");
    const [failed] = await q<{ status: string; cursor: number }>(`SELECT status::text, cursor FROM billing_runs WHERE kind = 'dunning' AND period_start = '2026-12-22'`);
    expect(failed?.status).toBe("failed");
    expect(failed!.cursor).toBeLessThan(subs.staff!);
    const second = await runDunning(pool, { now, config: { ...config(), chunkSize: 1 }, parallel: 2 });
    expect(second.lateFees).toBe(0);
    // Owing accounts (the fee-less plan too) suspended exactly once; the paid one untouched.
    const rows = await q<{ sub: number; n: number }>(`SELECT subscriber_id AS sub, count(*)::int AS n FROM enforcement_outbox WHERE kind = 'suspend' GROUP BY 1 ORDER BY 1`);
    expect(rows).toEqual([subs.unpaid!, subs.partly!, subs.fixed!, subs.staff!].map((sub) => ({ sub, n: 1 })).sort((a, b) => a.sub - b.sub));
    expect(await q(`SELECT status::text, processed FROM billing_runs WHERE kind = 'dunning' AND period_start = '2026-12-22'`)).toEqual([
      { status: "completed", processed: expect.any(Number) },
    ]);
    expect((await runDunning(pool, { now, config: config(), parallel: 2 })).actions).toBe(0);
  });
});
