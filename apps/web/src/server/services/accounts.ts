import "server-only";
import type { createPrisma } from "@isp/db/client";

type Prisma = ReturnType<typeof createPrisma>;
type Scope = { dealerId?: number };

// Bounds on what one page load reads; the balance and running balances are still
// computed over the whole account in SQL, only the rows returned are capped.
export const invoicesMax = 24;
export const paymentsMax = 50;
export const ledgerEntriesMax = 200;
export const statementMovementsMax = 2000;
export const statementDaysMax = 366;

export interface InvoiceLineDto {
  position: number;
  kind: string;
  description: string;
  chargedPaisa: number;
  discountPaisa: number;
  netPaisa: number;
  taxPaisa: number;
  totalPaisa: number;
  taxes: { ruleId: string; amountPaisa: number; rateBasisPoints: number | null; inclusive: boolean | null }[];
}

export interface InvoiceDto {
  id: number;
  number: string;
  kind: "invoice" | "credit_note";
  status: string;
  periodStart: string;
  periodEnd: string;
  issuedOn: string;
  dueOn: string;
  netPaisa: number;
  taxPaisa: number;
  totalPaisa: number;
  lines: InvoiceLineDto[];
}

export interface PaymentDto {
  receiptNo: string;
  method: string;
  amountPaisa: number;
  receivedAt: string;
  reversed: boolean;
  reversalReason: string | null;
}

export interface LedgerRowDto {
  transactionKey: string;
  kind: string;
  occurredOn: string;
  description: string;
  debitPaisa: number;
  creditPaisa: number;
  /** Receivable balance after this entry (over the whole history, not just the rows shown). */
  balancePaisa: number;
}

export interface SubscriberAccount {
  subscriberId: number;
  account: string;
  /** Σ entries of `receivable:<id>`: positive owes, negative is an advance. */
  balancePaisa: number;
  openInvoices: InvoiceDto[];
  invoices: InvoiceDto[];
  payments: PaymentDto[];
  ledger: LedgerRowDto[];
  ledgerTotal: number;
  dunning: { state: string; access: string; currentStep: string | null; invoiceKey: string | null; updatedAt: string } | null;
}

/** Bigint/numeric from SQL arrive as float8; refuse anything that is not an exact integer. */
function paisa(v: number | string | bigint): number {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`amount ${String(v)} is not a safe integer of paisa`);
  return n;
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

const kindLabels: Record<string, string> = {
  invoice: "Invoice",
  credit_note: "Credit note",
  payment: "Payment",
  reversal: "Reversal",
  fee: "Fee",
  refund: "Refund",
  wallet_topup: "Wallet top-up",
  dealer_recharge: "Recharge",
  commission: "Commission",
  dealer_transfer: "Dealer transfer",
};

/** "Payment 'R-1'" from `payment:R-1`; invoices show their printed number when there is one. */
function describe(kind: string, key: string, number: string | null): string {
  const label = kindLabels[kind] ?? kind;
  if (number) return `${label} ${number}`;
  const ref = key.startsWith(`${kind}:`) ? key.slice(kind.length + 1) : key;
  return `${label} ${ref}`;
}

function taxesOf(raw: unknown): InvoiceLineDto["taxes"] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t: unknown) => {
    if (typeof t !== "object" || t === null) return [];
    const o = t as Record<string, unknown>;
    const amount = o.amountPaisa;
    if (typeof amount !== "number") return [];
    return [
      {
        ruleId: typeof o.ruleId === "string" ? o.ruleId : typeof o.account === "string" ? o.account : "tax",
        amountPaisa: paisa(amount),
        rateBasisPoints: typeof o.rateBasisPoints === "number" ? o.rateBasisPoints : null,
        inclusive: typeof o.inclusive === "boolean" ? o.inclusive : null,
      },
    ];
  });
}

export async function subscriberAccount(prisma: Prisma, scope: Scope, subscriberId: number): Promise<SubscriberAccount | null> {
  const visible = await prisma.subscriber.count({ where: { id: subscriberId, ...scope } });
  if (visible === 0) return null;
  const account = `receivable:${subscriberId}`;

  const [balanceRows, ledgerRows, invoiceRows, openRows, paymentRows, dunning] = await Promise.all([
    prisma.$queryRaw<{ b: number; n: number }[]>`
      SELECT coalesce(sum(amount_paisa), 0)::float8 AS b, count(*)::int AS n FROM ledger_entries WHERE account = ${account}`,
    // Running balance over the whole account, newest rows returned.
    prisma.$queryRaw<{ key: string; kind: string; on: string; amount: number; running: number; number: string | null }[]>`
      SELECT * FROM (
        SELECT t.key, t.kind, to_char(t.occurred_on, 'YYYY-MM-DD') AS on, e.amount_paisa::float8 AS amount,
               (sum(e.amount_paisa) OVER (ORDER BY t.occurred_on, t.id, e.id))::float8 AS running,
               i.number, t.occurred_on AS o, t.id AS tid, e.id AS eid
        FROM ledger_entries e
        JOIN ledger_transactions t ON t.id = e.transaction_id
        LEFT JOIN invoices i ON t.kind IN ('invoice', 'credit_note') AND i.subscriber_id = ${subscriberId}
          AND i.kind::text = t.kind AND t.key = t.kind || ':' || i.subscriber_id || ':' || coalesce(i.source, to_char(i.period_start, 'YYYY-MM-DD'))
        WHERE e.account = ${account}
      ) x ORDER BY o DESC, tid DESC, eid DESC LIMIT ${ledgerEntriesMax}`,
    prisma.invoice.findMany({
      where: { subscriberId },
      orderBy: [{ issuedOn: "desc" }, { id: "desc" }],
      take: invoicesMax,
      include: { lines: { orderBy: { position: "asc" } } },
    }),
    prisma.invoice.findMany({
      where: { subscriberId, status: "open", kind: "invoice" },
      orderBy: [{ dueDate: "asc" }, { id: "asc" }],
      take: invoicesMax,
      include: { lines: { orderBy: { position: "asc" } } },
    }),
    prisma.payment.findMany({ where: { subscriberId }, orderBy: [{ receivedAt: "desc" }, { id: "desc" }], take: paymentsMax }),
    prisma.dunningState.findUnique({ where: { subscriberId } }),
  ]);

  const toInvoice = (i: (typeof invoiceRows)[number]): InvoiceDto => ({
    id: i.id,
    number: i.number,
    kind: i.kind,
    status: i.status,
    periodStart: day(i.periodStart),
    periodEnd: day(i.periodEnd),
    issuedOn: day(i.issuedOn),
    dueOn: day(i.dueDate),
    netPaisa: paisa(i.netPaisa),
    taxPaisa: paisa(i.taxPaisa),
    totalPaisa: paisa(i.totalPaisa),
    lines: i.lines.map((l) => ({
      position: l.position,
      kind: l.kind,
      description: l.description,
      chargedPaisa: paisa(l.chargedPaisa),
      discountPaisa: paisa(l.discountPaisa),
      netPaisa: paisa(l.netPaisa),
      taxPaisa: paisa(l.taxPaisa),
      totalPaisa: paisa(l.totalPaisa),
      taxes: taxesOf(l.taxes),
    })),
  });

  const record = (dunning?.record ?? null) as { firedSteps?: unknown; invoiceId?: unknown } | null;
  const fired = Array.isArray(record?.firedSteps) ? record.firedSteps.filter((s): s is string => typeof s === "string") : [];

  return {
    subscriberId,
    account,
    balancePaisa: paisa(balanceRows[0]?.b ?? 0),
    ledgerTotal: balanceRows[0]?.n ?? 0,
    openInvoices: openRows.map(toInvoice),
    invoices: invoiceRows.map(toInvoice),
    payments: paymentRows.map((p) => ({
      receiptNo: p.receiptNo,
      method: p.method,
      amountPaisa: paisa(p.amountPaisa),
      receivedAt: p.receivedAt.toISOString(),
      reversed: p.reversedAt !== null,
      reversalReason: p.reversalReason,
    })),
    ledger: ledgerRows.map((r) => ({
      transactionKey: r.key,
      kind: r.kind,
      occurredOn: r.on,
      description: describe(r.kind, r.key, r.number),
      debitPaisa: r.amount > 0 ? paisa(r.amount) : 0,
      creditPaisa: r.amount < 0 ? paisa(-r.amount) : 0,
      balancePaisa: paisa(r.running),
    })),
    dunning: dunning
      ? {
          state: dunning.state,
          access: dunning.access,
          currentStep: fired.at(-1) ?? null,
          invoiceKey: typeof record?.invoiceId === "string" ? record.invoiceId : null,
          updatedAt: dunning.updatedAt.toISOString(),
        }
      : null,
  };
}

export interface StatementMovementDto {
  occurredOn: string;
  transactionKey: string;
  kind: string;
  description: string;
  /** Signed from the dealer's side: positive raises the wallet. */
  amountPaisa: number;
  balanceAfterPaisa: number;
}

export interface DealerStatementDto {
  dealerId: number;
  dealerName: string;
  from: string;
  /** Inclusive. */
  to: string;
  openingPaisa: number;
  movements: StatementMovementDto[];
  closingPaisa: number;
  /** More movements than statementMovementsMax: the list is cut, the balances are not. */
  truncated: boolean;
}

/**
 * The wallet is `dealer-wallet:<id>`, a credit-normal account: the dealer's balance is the
 * negated sum of its entries. Opening = everything booked before `from`; closing = up to `to`.
 */
export async function dealerStatement(prisma: Prisma, dealerId: number, from: string, to: string): Promise<DealerStatementDto | null> {
  const dealer = await prisma.dealer.findUnique({ where: { id: dealerId }, select: { id: true, name: true } });
  if (!dealer) return null;
  const account = `dealer-wallet:${dealerId}`;
  const [sums, rows] = await Promise.all([
    prisma.$queryRaw<{ opening: number; closing: number; n: number }[]>`
      SELECT coalesce(-sum(e.amount_paisa) FILTER (WHERE t.occurred_on < ${from}::date), 0)::float8 AS opening,
             coalesce(-sum(e.amount_paisa), 0)::float8 AS closing,
             count(*) FILTER (WHERE t.occurred_on >= ${from}::date)::int AS n
      FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
      WHERE e.account = ${account} AND t.occurred_on <= ${to}::date`,
    prisma.$queryRaw<{ key: string; kind: string; on: string; amount: number; account_no: string | null }[]>`
      SELECT t.key, t.kind, to_char(t.occurred_on, 'YYYY-MM-DD') AS on, (-e.amount_paisa)::float8 AS amount, s.account_no
      FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
      LEFT JOIN subscribers s ON s.id = t.subscriber_id
      WHERE e.account = ${account} AND t.occurred_on >= ${from}::date AND t.occurred_on <= ${to}::date
      ORDER BY t.occurred_on, t.id, e.id LIMIT ${statementMovementsMax}`,
  ]);
  const openingPaisa = paisa(sums[0]?.opening ?? 0);
  let running = openingPaisa;
  const movements = rows.map((r) => {
    running += paisa(r.amount);
    const base = describe(r.kind, r.key, null);
    return {
      occurredOn: r.on,
      transactionKey: r.key,
      kind: r.kind,
      description: r.account_no ? `${base} (${r.account_no})` : base,
      amountPaisa: paisa(r.amount),
      balanceAfterPaisa: running,
    };
  });
  return {
    dealerId: dealer.id,
    dealerName: dealer.name,
    from,
    to,
    openingPaisa,
    movements,
    closingPaisa: paisa(sums[0]?.closing ?? 0),
    truncated: (sums[0]?.n ?? 0) > movements.length,
  };
}
