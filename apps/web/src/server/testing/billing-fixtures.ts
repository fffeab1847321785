// Test fixtures for billing: an invoice written the way the billing run writes it (row,
// lines, ledger transaction), for integration tests against a real PostgreSQL.
import type { createPrisma } from "@isp/db/client";
import { insertLedgerTransactions } from "@isp/db/billing-store";
import type pg from "pg";

type Prisma = ReturnType<typeof createPrisma>;

export interface FixtureLine {
  description: string;
  net: number;
  tax: number;
}

const dayMs = 86_400_000;
const iso = (d: Date) => d.toISOString().slice(0, 10);

/** Karachi business date `days` from today (negative: in the past). */
export function karachiDay(days = 0, now = new Date()): string {
  return iso(new Date(now.getTime() + 5 * 3_600_000 + days * dayMs));
}

/** One invoice in series INV-TEST (numbers from the counter, like the run), with its ledger transaction. */
export async function createInvoice(
  prisma: Prisma,
  pool: pg.Pool,
  input: { subscriberId: number; periodStart: string; dueOn: string; lines: FixtureLine[] },
): Promise<{ id: number; number: string; totalPaisa: number }> {
  const net = input.lines.reduce((a, l) => a + l.net, 0);
  const tax = input.lines.reduce((a, l) => a + l.tax, 0);
  const start = new Date(`${input.periodStart}T00:00:00Z`);
  const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 0));
  const series = "INV-TEST";
  await pool.query(`INSERT INTO invoice_counters (series) VALUES ($1) ON CONFLICT DO NOTHING`, [series]);
  const seq = (await pool.query<{ s: number }>(`UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE series = $1 RETURNING last_seq AS s`, [series])).rows[0]!.s;
  const number = `${series}-${String(seq).padStart(7, "0")}`;
  const row = await prisma.invoice.create({
    data: {
      number,
      subscriberId: input.subscriberId,
      periodStart: start,
      periodEnd: end,
      dueDate: new Date(`${input.dueOn}T00:00:00Z`),
      issuedOn: start,
      series,
      seq,
      netPaisa: BigInt(net),
      taxPaisa: BigInt(tax),
      totalPaisa: BigInt(net + tax),
      lines: {
        create: input.lines.map((l, i) => ({
          position: i + 1,
          kind: "subscription",
          description: l.description,
          revenueAccount: "revenue:service",
          chargedPaisa: BigInt(l.net),
          discountPaisa: 0n,
          netPaisa: BigInt(l.net),
          taxPaisa: BigInt(l.tax),
          totalPaisa: BigInt(l.net + l.tax),
          taxes: l.tax ? [{ ruleId: "sst-sindh", name: "Sindh sales tax on services", account: "tax:sst-sindh", rateBasisPoints: 1950, inclusive: false, amountPaisa: l.tax }] : [],
        })),
      },
    },
  });
  const entries = [{ account: `receivable:${input.subscriberId}`, amountPaisa: net + tax }, { account: "revenue:service", amountPaisa: -net }];
  if (tax) entries.push({ account: "tax:sst-sindh", amountPaisa: -tax });
  await insertLedgerTransactions(pool, [{ key: `invoice:${input.subscriberId}:${input.periodStart}`, kind: "invoice", subscriberId: input.subscriberId, occurredOn: input.periodStart, entries }]);
  return { id: row.id, number, totalPaisa: net + tax };
}
