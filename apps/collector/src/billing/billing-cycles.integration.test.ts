// Quarterly / yearly anniversaries, prorated first invoices and catch-up in the database
// billing run, with activation dates on Karachi month ends and February.
import { prorate } from "@isp/billing/proration";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBilling } from "./billing-run";

describe("billing cycles in the database run", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const ids: Record<string, number> = {};
  const q = async <T extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, args)).rows;
  const invoicesOf = (name: string) =>
    q<{ ps: string; pe: string; net: string; issued: string; desc: string }>(
      `SELECT period_start::text AS ps, period_end::text AS pe, net_paisa::text AS net, issued_on::text AS issued,
              (SELECT string_agg(description, ' | ' ORDER BY position) FROM invoice_lines l WHERE l.invoice_id = i.id) AS desc
       FROM invoices i WHERE subscriber_id = $1 ORDER BY period_start`,
      [ids[name]],
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pool.on("error", () => undefined);
    const plans = await q<{ id: number; code: string }>(
      `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, billing_cycle, validity_days) VALUES
         ('M', 'Monthly 10', 10240, 2048, 310000, 'monthly', NULL),
         ('Q', 'Quarterly 20', 20480, 4096, 900000, 'quarterly', NULL),
         ('Y', 'Yearly 20', 20480, 4096, 3000000, 'yearly', NULL),
         ('P', 'Prepaid 30 days', 10240, 2048, 250000, 'prepaid_days', 30)
       RETURNING id, code`,
    );
    const plan = (code: string) => plans.find((p) => p.code === code)!.id;
    // created_at is an instant; the activation date is its Karachi (UTC+5) calendar date.
    const subs: [string, string, string, string?][] = [
      ["monthlyMid", "M", "2026-12-10T10:00:00+05"], // prorated December, 22/31 days
      ["monthlyLastDay", "M", "2026-11-30T23:30:00+05"], // Karachi 30 Nov: catch-up 1/30 of November + December
      ["monthlyUtcEve", "M", "2026-11-30T20:00:00Z"], // 1 Dec 01:00 in Karachi: full December, no November
      ["monthlyOld", "M", "2026-03-01T09:00:00+05"],
      ["monthlyFuture", "M", "2027-01-05T09:00:00+05"], // not billed in December
      ["quarterJan31", "Q", "2026-01-31T12:00:00+05"], // 31 Jan -> 30 Apr -> 31 Jul -> 31 Oct -> 31 Jan
      ["quarterNov20", "Q", "2026-11-20T12:00:00+05"], // after the November run: caught up in December
      ["yearLeap", "Y", "2024-02-29T12:00:00+05"], // 29 Feb -> 28 Feb 2027 -> 29 Feb 2028
      ["prepaid", "P", "2026-01-01T12:00:00+05"],
      ["pending", "M", "2026-01-01T12:00:00+05", "pending"],
    ];
    for (const [i, [name, code, at, status]] of subs.entries()) {
      const r = await q<{ id: number }>(
        `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, status, pppoe_username, pppoe_password, created_at)
         VALUES ($1, $2, '0300-0000000', '42101-0000000-1', 'Street 1', 'Karachi', $3, $4::subscriber_status, $1, 'secret-1', $5) RETURNING id`,
        [`CYC-${i}`, name, plan(code), status ?? "active", at],
      );
      ids[name] = r[0]!.id;
    }
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("October: the quarterly period that starts on the 31st is billed, nothing else of the anniversary plans", async () => {
    const r = await runBilling(pool, { periodStart: "2026-10-01" });
    // monthlyOld, quarterJan31 (31 Oct - 30 Jan).
    expect(r.created).toBe(2);
    expect(await invoicesOf("quarterJan31")).toEqual([
      { ps: "2026-10-31", pe: "2027-01-30", net: expect.any(String), issued: "2026-10-01", desc: "Quarterly 20, 2026-10-31 to 2027-01-30 (92 days)" },
    ]);
  });

  it("December: prorated first invoices, the Karachi date decides, catch-up of a late November activation", async () => {
    // No November run here: as if it ran on 1 November, before the late-November activations.
    const r = await runBilling(pool, { periodStart: "2026-12-01" });
    // monthlyMid, monthlyLastDay x2, monthlyUtcEve, monthlyOld, quarterNov20 (catch-up).
    expect(r.created).toBe(6);
    expect(await invoicesOf("monthlyMid")).toEqual([
      { ps: "2026-12-01", pe: "2026-12-31", net: String(prorate(310000, 22, 31)), issued: "2026-12-01", desc: "Monthly 10, 2026-12-10 to 2026-12-31 (22/31 days)" },
    ]);
    expect((await invoicesOf("monthlyLastDay")).map((i) => [i.ps, i.pe, i.net])).toEqual([
      ["2026-11-01", "2026-11-30", String(prorate(310000, 1, 30))],
      ["2026-12-01", "2026-12-31", "310000"],
    ]);
    expect((await invoicesOf("monthlyUtcEve")).map((i) => [i.ps, i.net])).toEqual([["2026-12-01", "310000"]]);
    expect(await invoicesOf("monthlyFuture")).toEqual([]);
    expect((await invoicesOf("quarterNov20")).map((i) => [i.ps, i.pe, i.net])).toEqual([["2026-11-20", "2027-02-19", "900000"]]);
    expect(await invoicesOf("prepaid")).toEqual([]);
    expect(await invoicesOf("pending")).toEqual([]);
    expect(await invoicesOf("yearLeap")).toEqual([]);
  });

  it("January and February: month-end and leap-day anniversaries; re-runs create nothing", async () => {
    await runBilling(pool, { periodStart: "2027-01-01" });
    expect((await invoicesOf("quarterJan31")).map((i) => [i.ps, i.pe])).toEqual([
      ["2026-10-31", "2027-01-30"],
      ["2027-01-31", "2027-04-29"],
    ]);
    // monthlyFuture (activated 5 Jan): prorated 27/31.
    expect((await invoicesOf("monthlyFuture")).map((i) => [i.ps, i.net])).toEqual([["2027-01-01", String(prorate(310000, 27, 31))]]);
    await runBilling(pool, { periodStart: "2027-02-01" });
    expect((await invoicesOf("yearLeap")).map((i) => [i.ps, i.pe, i.net])).toEqual([["2027-02-28", "2028-02-28", "3000000"]]);
    await runBilling(pool, { periodStart: "2028-02-01" });
    expect((await invoicesOf("yearLeap")).map((i) => [i.ps, i.pe])).toEqual([
      ["2027-02-28", "2028-02-28"],
      ["2028-02-29", "2029-02-27"],
    ]);
    for (const p of ["2026-10-01", "2026-12-01", "2027-01-01", "2027-02-01", "2028-02-01"]) {
      expect((await runBilling(pool, { periodStart: p })).created).toBe(0);
    }
    // Gapless per series, one ledger transaction per invoice, balanced.
    const series = await q<{ series: string; n: number; max: number }>(`SELECT series, count(*)::int AS n, max(seq) AS max FROM invoices GROUP BY 1 ORDER BY 1`);
    for (const s of series) expect(s.max).toBe(s.n);
    expect(await q(`SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount_paisa) <> 0`)).toEqual([]);
    const [keys] = await q<{ inv: number; tx: number }>(
      `SELECT (SELECT count(*)::int FROM invoices) AS inv, (SELECT count(*)::int FROM ledger_transactions WHERE key LIKE 'invoice:%') AS tx`,
    );
    expect(keys?.tx).toBe(keys?.inv);
  });
});
