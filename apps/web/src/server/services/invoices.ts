import "server-only";
import type { createPrisma } from "@isp/db/client";
import type { InvoiceDocument } from "../invoices/document";

type Prisma = ReturnType<typeof createPrisma>;
type Scope = { dealerId?: number };

function paisa(v: number | string | bigint): number {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`amount ${String(v)} is not a safe integer of paisa`);
  return n;
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

function lineTaxes(raw: unknown): InvoiceDocument["lines"][number]["taxes"] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t: unknown) => {
    if (typeof t !== "object" || t === null) return [];
    const o = t as Record<string, unknown>;
    if (typeof o.amountPaisa !== "number") return [];
    const name = typeof o.name === "string" ? o.name : typeof o.ruleId === "string" ? o.ruleId : "Tax";
    return [{ name, rateBasisPoints: typeof o.rateBasisPoints === "number" ? o.rateBasisPoints : null, inclusive: o.inclusive === true, amountPaisa: paisa(o.amountPaisa) }];
  });
}

/**
 * One invoice as the PDF prints it, or null when it does not exist or is outside the
 * operator's scope (a dealer: only their own subscribers' invoices), the same rule as
 * accounts.subscriber.
 */
export async function invoiceDocument(prisma: Prisma, scope: Scope, invoiceId: number, now = new Date()): Promise<InvoiceDocument | null> {
  const inv = await prisma.invoice.findFirst({
    where: { id: invoiceId, subscriber: scope },
    include: { lines: { orderBy: { position: "asc" } }, subscriber: { include: { plan: { select: { name: true } } } } },
  });
  if (!inv) return null;
  const s = inv.subscriber;
  const account = `receivable:${s.id}`;
  const issuedOn = day(inv.issuedOn);
  const [prev, sums] = await Promise.all([
    prisma.$queryRaw<{ on: string | null }[]>`
      SELECT to_char(max(issued_on), 'YYYY-MM-DD') AS on FROM invoices
      WHERE subscriber_id = ${s.id} AND kind = 'invoice' AND status <> 'void' AND issued_on < ${issuedOn}::date`,
    // Receivable movements before this invoice's issue date, split at the previous invoice.
    prisma.$queryRaw<{ before_prev: number; payments: number; other: number; n_before: number; now: number }[]>`
      WITH p AS (
        SELECT max(issued_on) AS on FROM invoices
        WHERE subscriber_id = ${s.id} AND kind = 'invoice' AND status <> 'void' AND issued_on < ${issuedOn}::date
      )
      SELECT coalesce(sum(e.amount_paisa) FILTER (WHERE t.occurred_on <= p.on), 0)::float8 AS before_prev,
             coalesce(-sum(e.amount_paisa) FILTER (WHERE (p.on IS NULL OR t.occurred_on > p.on) AND t.occurred_on < ${issuedOn}::date
                                                   AND t.kind IN ('payment', 'reversal', 'dealer_recharge')), 0)::float8 AS payments,
             coalesce(sum(e.amount_paisa) FILTER (WHERE (p.on IS NULL OR t.occurred_on > p.on) AND t.occurred_on < ${issuedOn}::date
                                                  AND t.kind NOT IN ('payment', 'reversal', 'dealer_recharge')), 0)::float8 AS other,
             count(*) FILTER (WHERE t.occurred_on < ${issuedOn}::date)::int AS n_before,
             coalesce(sum(e.amount_paisa), 0)::float8 AS now
      FROM p, ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
      WHERE e.account = ${account}`,
  ]);
  const totals = sums[0] ?? { before_prev: 0, payments: 0, other: 0, n_before: 0, now: 0 };
  const total = paisa(inv.totalPaisa);
  const lines = inv.lines.map((l) => ({
    position: l.position,
    description: l.description,
    chargedPaisa: paisa(l.chargedPaisa),
    discountPaisa: paisa(l.discountPaisa),
    netPaisa: paisa(l.netPaisa),
    taxPaisa: paisa(l.taxPaisa),
    totalPaisa: paisa(l.totalPaisa),
    taxes: lineTaxes(l.taxes),
  }));
  const byTax = new Map<string, number>();
  for (const l of lines) for (const t of l.taxes) byTax.set(t.name, (byTax.get(t.name) ?? 0) + t.amountPaisa);
  const previousBalancePaisa = paisa(totals.before_prev);
  const paymentsPaisa = paisa(totals.payments);
  const adjustmentsPaisa = paisa(totals.other);
  return {
    id: inv.id,
    number: inv.number,
    kind: inv.kind,
    status: inv.status,
    issuedOn,
    dueOn: day(inv.dueDate),
    periodStart: day(inv.periodStart),
    periodEnd: day(inv.periodEnd),
    customer: { subscriberId: s.id, accountNo: s.accountNo, name: s.name, address: s.address, city: s.city, cnic: s.cnic, phone: s.phone, plan: s.plan.name },
    lines,
    totals: { netPaisa: paisa(inv.netPaisa), taxPaisa: paisa(inv.taxPaisa), totalPaisa: total, taxes: [...byTax].map(([name, amountPaisa]) => ({ name, amountPaisa })) },
    account:
      totals.n_before === 0
        ? null
        : { previousInvoiceOn: prev[0]?.on ?? null, previousBalancePaisa, paymentsPaisa, adjustmentsPaisa, amountDuePaisa: previousBalancePaisa - paymentsPaisa + adjustmentsPaisa + total },
    balanceNowPaisa: paisa(totals.now),
    generatedAt: now.toISOString(),
  };
}
