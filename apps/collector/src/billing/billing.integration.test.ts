import { insertLedgerTransactions } from "@isp/db/billing-store";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBilling } from "./billing-run";
import { runDunning } from "./dunning-run";
import { recordPayment, reversePayment } from "./payments";

describe("billing and dunning runs on PostgreSQL", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let billable: number;
  const q = async <T extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, args)).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.prisma, { subscribers: 240 });
    // Activated long before the billed months: full-month invoices only (proration and
    // catch-up are billing-cycles.integration.test.ts).
    await db.prisma.$executeRawUnsafe(`UPDATE subscribers SET created_at = '2026-06-15T10:00:00+05'`);
    pool = new pg.Pool({ connectionString: db.url, max: 12 });
    // drop() terminates backends; a client still closing must not surface as an unhandled error.
    pool.on("error", () => undefined);
    const [row] = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.status IN ('active', 'suspended') AND p.billing_cycle = 'monthly'`,
    );
    billable = row?.n ?? 0;
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("bills every billable subscriber once, numbers without gaps, ledger balanced", async () => {
    const progress: number[] = [];
    const r = await runBilling(pool, { periodStart: "2026-12-01", config: { chunkSize: 50 }, onProgress: (p) => progress.push(p.processed) });
    expect(billable).toBeGreaterThan(200);
    expect(r.created).toBe(billable);
    expect(progress.at(-1)).toBe(billable);
    const inv = await q<{ n: number; min: number; max: number; subs: number }>(
      `SELECT count(*)::int AS n, min(seq) AS min, max(seq) AS max, count(DISTINCT subscriber_id)::int AS subs FROM invoices WHERE series = 'INV-2026'`,
    );
    expect(inv[0]).toEqual({ n: billable, min: 1, max: billable, subs: billable });
    expect(await q(`SELECT last_seq FROM invoice_counters WHERE series = 'INV-2026'`)).toEqual([{ last_seq: billable }]);
    const unbalanced = await q(`SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount_paisa) <> 0`);
    expect(unbalanced).toEqual([]);
    const lineMismatch = await q(
      `SELECT i.id FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id GROUP BY i.id, i.total_paisa HAVING sum(l.total_paisa) <> i.total_paisa`,
    );
    expect(lineMismatch).toEqual([]);
    // The receivables hold exactly what was invoiced; Karachi lines carry Sindh tax + AIT.
    const [sums] = await q<{ inv: string; rec: string }>(
      `SELECT (SELECT sum(total_paisa) FROM invoices)::text AS inv, (SELECT sum(amount_paisa) FROM ledger_entries WHERE account LIKE 'receivable:%')::text AS rec`,
    );
    expect(sums?.rec).toBe(sums?.inv);
    const [khi] = await q<{ taxes: { ruleId: string }[] }>(
      `SELECT l.taxes FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id JOIN subscribers s ON s.id = i.subscriber_id WHERE s.city = 'Karachi' LIMIT 1`,
    );
    expect(khi?.taxes.map((t) => t.ruleId)).toEqual(["sst-sindh", "ait"]);
  });

  it("a re-run creates nothing", async () => {
    const r = await runBilling(pool, { periodStart: "2026-12-01", config: { chunkSize: 50 } });
    expect(r.created).toBe(0);
    expect(r.processed).toBe(billable);
    expect(await q(`SELECT count(*)::int AS n FROM invoices`)).toEqual([{ n: billable }]);
  });

  it("an interrupted run resumes to the same result as an uninterrupted one", async () => {
    let chunks = 0;
    await expect(
      runBilling(pool, {
        periodStart: "2027-01-01",
        config: { chunkSize: 40 },
        onProgress: () => {
          if (++chunks === 3) throw new Error("crash after chunk 3");
        },
      }),
    ).rejects.toThrow("crash after chunk 3");
    expect(await q(`SELECT status, processed, created FROM billing_runs WHERE period_start = '2027-01-01'`)).toEqual([
      { status: "failed", processed: 120, created: 120 },
    ]);
    const r = await runBilling(pool, { periodStart: "2027-01-01", config: { chunkSize: 40 } });
    expect(r.resumed).toBe(true);
    expect(r.created).toBe(billable);
    // Same numbering an uninterrupted run gives: by subscriber id, 1..N; same amounts as December.
    const rows = await q<{ ok: boolean }>(
      `SELECT bool_and(j.seq = j.rn AND j.total_paisa = d.total_paisa) AS ok FROM
         (SELECT subscriber_id, seq, total_paisa, row_number() OVER (ORDER BY subscriber_id) AS rn FROM invoices WHERE series = 'INV-2027') j
         JOIN invoices d ON d.subscriber_id = j.subscriber_id AND d.period_start = '2026-12-01'`,
    );
    expect(rows).toEqual([{ ok: true }]);
    expect(await q(`SELECT count(*)::int AS n FROM invoices WHERE series = 'INV-2027'`)).toEqual([{ n: billable }]);
  });

  it("dunning escalates overdue accounts once; a re-run emits nothing", async () => {
    const now = new Date("2026-12-22T06:00:00Z"); // 11 days past the 2026-12-11 due date
    const first = await runDunning(pool, { now, config: { chunkSize: 70 } });
    expect(first.evaluated).toBe(billable);
    expect(first.enforcement).toBe(billable);
    const kinds = await q<{ kind: string; n: number }>(`SELECT kind::text, count(*)::int AS n FROM enforcement_outbox GROUP BY 1 ORDER BY 1`);
    expect(kinds).toEqual([{ kind: "suspend", n: billable }]);
    expect(await q(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'subscriber.suspend'`)).toEqual([{ n: billable }]);
    const again = await runDunning(pool, { now, config: { chunkSize: 70 } });
    expect(again).toMatchObject({ actions: 0, enforcement: 0, notifications: 0 });
    expect(await q(`SELECT count(*)::int AS n FROM enforcement_outbox`)).toEqual([{ n: billable }]);
  });

  it("a payment that clears the balance restores at once; reversal goes through the ledger", async () => {
    const [s] = await q<{ id: number; owed: string }>(
      `SELECT subscriber_id AS id, sum(total_paisa)::text AS owed FROM invoices GROUP BY 1 ORDER BY 1 LIMIT 1`,
    );
    const id = s!.id;
    const owed = Number(s!.owed);
    const now = new Date("2026-12-23T06:00:00Z");
    const base = { subscriberId: id, method: "cash" as const, receivedAt: now, operatorId: null, actor: "cashier" };
    const partial = await recordPayment(pool, { ...base, receiptNo: "R-1", amountPaisa: 1000 }, { now });
    expect(partial).toMatchObject({ duplicate: false, balancePaisa: owed - 1000, actions: 0 });
    const full = await recordPayment(pool, { ...base, receiptNo: "R-2", amountPaisa: owed - 1000 }, { now });
    expect(full.balancePaisa).toBe(0);
    expect(full.actions).toBeGreaterThanOrEqual(1);
    expect(await q(`SELECT kind::text FROM enforcement_outbox WHERE subscriber_id = $1 ORDER BY id`, [id])).toEqual([{ kind: "suspend" }, { kind: "restore" }]);
    expect(await q(`SELECT status::text FROM subscribers WHERE id = $1`, [id])).toEqual([{ status: "active" }]);
    expect(await q(`SELECT DISTINCT status::text FROM invoices WHERE subscriber_id = $1`, [id])).toEqual([{ status: "paid" }]);
    expect(await recordPayment(pool, { ...base, receiptNo: "R-2", amountPaisa: owed - 1000 }, { now })).toMatchObject({ duplicate: true, balancePaisa: 0 });

    const rev = await reversePayment(pool, { receiptNo: "R-2", reason: "cheque bounced", operatorId: null, actor: "cashier" }, { now });
    expect(rev.balancePaisa).toBe(owed - 1000);
    const [bal] = await q<{ b: string }>(`SELECT sum(amount_paisa)::text AS b FROM ledger_entries WHERE account = $1`, [`receivable:${id}`]);
    expect(Number(bal?.b)).toBe(owed - 1000);
    expect(await q(`SELECT key FROM ledger_transactions WHERE key LIKE 'reversal:%'`)).toEqual([{ key: "reversal:payment:R-2" }]);
    expect(await q(`SELECT action FROM audit_log WHERE entity_id = $1 AND action LIKE 'payment.%' ORDER BY id`, [String(id)])).toEqual([
      { action: "payment.record" },
      { action: "payment.record" },
      { action: "payment.reverse" },
    ]);
  });

  it("concurrent payments for one subscriber allocate oldest-first without losing any", async () => {
    const [s] = await q<{ id: number; dec: string; jan: string }>(
      `SELECT subscriber_id AS id, max(total_paisa) FILTER (WHERE period_start = '2026-12-01')::text AS dec,
              max(total_paisa) FILTER (WHERE period_start = '2027-01-01')::text AS jan
       FROM invoices GROUP BY 1 ORDER BY 1 OFFSET 1 LIMIT 1`,
    );
    const dec = Number(s!.dec);
    const jan = Number(s!.jan);
    const n = 10;
    const each = Math.ceil((dec + 1) / n); // together they pay December and a little of January
    const now = new Date("2026-12-23T06:00:00Z");
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        recordPayment(pool, { subscriberId: s!.id, receiptNo: `C-${i}`, amountPaisa: each, method: "bank_transfer", receivedAt: now, operatorId: null, actor: "bank" }, { now }),
      ),
    );
    expect(await q(`SELECT period_start::text AS p, status::text FROM invoices WHERE subscriber_id = $1 ORDER BY period_start`, [s!.id])).toEqual([
      { p: "2026-12-01", status: "paid" },
      { p: "2027-01-01", status: "open" },
    ]);
    const [bal] = await q<{ b: string }>(`SELECT sum(amount_paisa)::text AS b FROM ledger_entries WHERE account = $1`, [`receivable:${s!.id}`]);
    expect(Number(bal?.b)).toBe(dec + jan - n * each);
  });

  it("the database refuses an unbalanced ledger transaction", async () => {
    await expect(
      insertLedgerTransactions(pool, [
        { key: "fee:bad", kind: "fee", subscriberId: null, occurredOn: "2026-12-01", entries: [{ account: "cash", amountPaisa: 5 }, { account: "revenue:fees", amountPaisa: -4 }] },
      ]),
    ).rejects.toThrow(/does not balance/);
    expect(await q(`SELECT count(*)::int AS n FROM ledger_transactions WHERE key = 'fee:bad'`)).toEqual([{ n: 0 }]);
  });
});
