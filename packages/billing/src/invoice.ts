// Invoice builder: charges (plan, proration, one-time), discounts and taxes -> lines and
// totals. Every figure is rounded where it first appears (a line discount, an invoice
// discount's share of a line, a line's tax) and every total is a plain sum of line figures,
// so `total == Σ line totals` holds exactly. A negative result is a credit note.

import { type AccountId, LedgerError, postingsTransaction, receivable, type Transaction } from "./ledger";
import { roundHalfAwayFromZero } from "./money";
import { type CalendarDate, compareDates, daysInPeriod, formatDate, lastDay, type Period, toDate } from "./cycles";
import type { PricedPlan, ProrationResult } from "./proration";
import { applicableRules, assertTaxRules, type LineTax, taxLine, type TaxRule } from "./tax";

export type ChargeKind = "subscription" | "proration" | "installation" | "equipment" | "reconnection" | "other";

export type Discount =
  | { readonly kind: "fixed"; readonly description: string; readonly amountPaisa: number }
  | { readonly kind: "percentage"; readonly description: string; readonly basisPoints: number };

export interface Charge {
  readonly kind: ChargeKind;
  readonly description: string;
  /** As priced (gross of inclusive taxes). Negative only for credits such as unused days. */
  readonly amountPaisa: number;
  /** The service the tax table matches on, e.g. "internet", "equipment". */
  readonly service: string;
  readonly discounts?: readonly Discount[];
}

export interface InvoiceRequest {
  readonly invoiceId: string;
  readonly subscriberId: string;
  /** The region the tax table matches on (where the service is delivered). */
  readonly region: string;
  readonly issuedOn: CalendarDate | string;
  readonly dueOn: CalendarDate | string;
  readonly charges: readonly Charge[];
  /** Spread over the positive lines in proportion to their amounts, so each line's tax base drops. */
  readonly discounts?: readonly Discount[];
  readonly taxRules: readonly TaxRule[];
}

export interface InvoiceLine {
  readonly kind: ChargeKind;
  readonly description: string;
  readonly service: string;
  readonly revenueAccount: AccountId;
  /** The charge before discounts. */
  readonly chargedPaisa: number;
  /** Line and invoice discounts on this line, as a non-negative amount subtracted. */
  readonly discountPaisa: number;
  /** Taxable base after discounts, excluding every tax. */
  readonly netPaisa: number;
  readonly taxes: readonly LineTax[];
  /** net + taxes. */
  readonly totalPaisa: number;
}

export interface TaxTotal {
  readonly ruleId: string;
  readonly name: string;
  readonly account: AccountId;
  readonly amountPaisa: number;
}

export interface InvoiceTotals {
  readonly chargedPaisa: number;
  readonly discountPaisa: number;
  readonly netPaisa: number;
  readonly taxPaisa: number;
  readonly taxes: readonly TaxTotal[];
  /** Signed: negative on a credit note. */
  readonly totalPaisa: number;
}

export interface InvoiceDocument {
  /** "credit_note" when the total is negative (money owed back to the subscriber). */
  readonly kind: "invoice" | "credit_note";
  readonly invoiceId: string;
  readonly subscriberId: string;
  readonly issuedOn: string;
  /** null on a credit note: nothing is due. */
  readonly dueOn: string | null;
  readonly lines: readonly InvoiceLine[];
  readonly totals: InvoiceTotals;
}

export type InvoiceErrorCode = "invalid_charge" | "invalid_discount" | "invalid_request";

export class InvoiceError extends Error {
  constructor(
    readonly code: InvoiceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "InvoiceError";
  }
}

/** Bounds one document; a run that produces more has a bug upstream. */
export const chargesPerInvoiceMax = 200;
export const discountsPerChargeMax = 10;

const revenueAccounts: Record<ChargeKind, AccountId> = {
  subscription: "revenue:service",
  proration: "revenue:service",
  installation: "revenue:installation",
  equipment: "revenue:equipment",
  reconnection: "revenue:fees",
  other: "revenue:other",
};

/** A full period of a plan. */
export function subscriptionCharge(plan: PricedPlan, period: Period, service = "internet"): Charge {
  return {
    kind: "subscription",
    description: `${plan.name}, ${formatDate(period.start)} to ${formatDate(lastDay(period))} (${daysInPeriod(period)} days)`,
    amountPaisa: plan.pricePaisa,
    service,
  };
}

/** Proration lines (activation, termination, plan change) as charges. */
export function prorationCharges(result: ProrationResult, service = "internet"): Charge[] {
  return result.lines.map((line) => ({ kind: "proration", description: line.description, amountPaisa: line.amountPaisa, service }));
}

function discountAmount(discount: Discount, basePaisa: number, where: string): number {
  if (discount.kind === "fixed") {
    if (!Number.isSafeInteger(discount.amountPaisa) || discount.amountPaisa < 0) {
      throw new InvoiceError("invalid_discount", `${where}: fixed discount must be non-negative integer paisa, got ${discount.amountPaisa}`);
    }
    return discount.amountPaisa;
  }
  if (discount.kind === "percentage") {
    if (!Number.isInteger(discount.basisPoints) || discount.basisPoints < 0 || discount.basisPoints > 10000) {
      throw new InvoiceError("invalid_discount", `${where}: percentage discount must be 0..10000 basis points, got ${discount.basisPoints}`);
    }
    return roundHalfAwayFromZero((basePaisa * discount.basisPoints) / 10000);
  }
  throw new InvoiceError("invalid_discount", `${where}: unknown discount kind ${JSON.stringify((discount as { kind?: unknown }).kind)}`);
}

/**
 * Splits `totalPaisa` over `weights` in proportion, by largest remainder (ties to the earlier
 * line), so the shares are integers that add up to the total exactly.
 */
export function allocateProportionally(totalPaisa: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  if (sum <= 0 || totalPaisa === 0) return weights.map(() => 0);
  const shares = weights.map((w) => {
    const product = totalPaisa * w;
    if (!Number.isSafeInteger(product)) throw new InvoiceError("invalid_discount", `discount ${totalPaisa} is too large to allocate exactly`);
    return { floor: Math.floor(product / sum), remainder: product % sum };
  });
  let left = totalPaisa - shares.reduce((s, x) => s + x.floor, 0);
  const order = shares.map((_, i) => i).sort((a, b) => (shares[b]?.remainder ?? 0) - (shares[a]?.remainder ?? 0) || a - b);
  const result = shares.map((x) => x.floor);
  for (const i of order) {
    if (left <= 0) break;
    result[i] = (result[i] ?? 0) + 1;
    left--;
  }
  return result;
}

export function buildInvoice(request: InvoiceRequest): InvoiceDocument {
  const issuedOn = toDate(request.issuedOn);
  const dueOn = toDate(request.dueOn);
  if (!request.invoiceId || !request.subscriberId) throw new InvoiceError("invalid_request", "invoiceId and subscriberId are required");
  if (compareDates(dueOn, issuedOn) < 0) throw new InvoiceError("invalid_request", `invoice ${request.invoiceId} is due ${formatDate(dueOn)}, before it is issued on ${formatDate(issuedOn)}`);
  if (request.charges.length === 0) throw new InvoiceError("invalid_request", `invoice ${request.invoiceId} has no charges`);
  if (request.charges.length > chargesPerInvoiceMax) throw new InvoiceError("invalid_request", `invoice ${request.invoiceId} has more than ${chargesPerInvoiceMax} charges`);
  assertTaxRules(request.taxRules);

  // Line discounts first, capped at the charge: a discount never turns a charge into a credit.
  const afterLine = request.charges.map((charge, i) => {
    if (!Number.isSafeInteger(charge.amountPaisa)) throw new InvoiceError("invalid_charge", `charge ${i} (${charge.description}) is not integer paisa`);
    if (charge.amountPaisa < 0 && charge.kind !== "proration" && charge.kind !== "other") {
      throw new InvoiceError("invalid_charge", `charge ${i} (${charge.description}): only proration or other charges may be negative`);
    }
    const discounts = charge.discounts ?? [];
    if (discounts.length > discountsPerChargeMax) throw new InvoiceError("invalid_discount", `charge ${i} has more than ${discountsPerChargeMax} discounts`);
    if (discounts.length > 0 && charge.amountPaisa <= 0) throw new InvoiceError("invalid_discount", `charge ${i} (${charge.description}) is not positive and cannot be discounted`);
    let discount = 0;
    for (const d of discounts) discount += discountAmount(d, charge.amountPaisa, `charge ${i}`);
    return { charge, discount: Math.min(discount, Math.max(charge.amountPaisa, 0)) };
  });

  for (const d of request.discounts ?? []) {
    const weights = afterLine.map((l) => Math.max(l.charge.amountPaisa - l.discount, 0));
    const eligible = weights.reduce((s, w) => s + w, 0);
    const amount = Math.min(discountAmount(d, eligible, `invoice ${request.invoiceId}`), eligible);
    const shares = allocateProportionally(amount, weights);
    afterLine.forEach((l, i) => {
      l.discount += shares[i] ?? 0;
    });
  }

  const taxContext = { region: request.region, on: issuedOn };
  const lines: InvoiceLine[] = afterLine.map(({ charge, discount }) => {
    const taxed = taxLine(charge.amountPaisa - discount, applicableRules(request.taxRules, { ...taxContext, service: charge.service }));
    return {
      kind: charge.kind,
      description: charge.description,
      service: charge.service,
      revenueAccount: revenueAccounts[charge.kind],
      chargedPaisa: charge.amountPaisa,
      discountPaisa: discount,
      netPaisa: taxed.netPaisa,
      taxes: taxed.taxes,
      totalPaisa: taxed.grossPaisa,
    };
  });

  const taxes = new Map<string, TaxTotal>();
  for (const line of lines) {
    for (const t of line.taxes) {
      const prior = taxes.get(t.ruleId);
      taxes.set(t.ruleId, { ruleId: t.ruleId, name: t.name, account: t.account, amountPaisa: (prior?.amountPaisa ?? 0) + t.amountPaisa });
    }
  }
  const sum = (f: (l: InvoiceLine) => number) => lines.reduce((s, l) => s + f(l), 0);
  const totals: InvoiceTotals = {
    chargedPaisa: sum((l) => l.chargedPaisa),
    discountPaisa: sum((l) => l.discountPaisa),
    netPaisa: sum((l) => l.netPaisa),
    taxPaisa: sum((l) => l.taxes.reduce((s, t) => s + t.amountPaisa, 0)),
    taxes: [...taxes.values()],
    totalPaisa: sum((l) => l.totalPaisa),
  };
  const creditNote = totals.totalPaisa < 0;
  return {
    kind: creditNote ? "credit_note" : "invoice",
    invoiceId: request.invoiceId,
    subscriberId: request.subscriberId,
    issuedOn: formatDate(issuedOn),
    dueOn: creditNote ? null : formatDate(dueOn),
    lines,
    totals,
  };
}

/**
 * The document's ledger transaction: the receivable moves by the signed total, each revenue
 * account by its lines' nets and each tax account by its taxes. Id `invoice:<id>` or
 * `credit_note:<id>`. null when nothing moves (a fully discounted or free document).
 */
export function invoiceLedgerTransaction(doc: InvoiceDocument): Transaction | null {
  const postings = [{ account: receivable(doc.subscriberId), amountPaisa: doc.totals.totalPaisa }];
  for (const line of doc.lines) {
    postings.push({ account: line.revenueAccount, amountPaisa: -line.netPaisa });
    for (const t of line.taxes) postings.push({ account: t.account, amountPaisa: -t.amountPaisa });
  }
  const kind = doc.kind === "credit_note" ? "credit_note" : "invoice";
  try {
    return postingsTransaction(`${kind}:${doc.invoiceId}`, kind, postings);
  } catch (error) {
    // Every account nets to zero (e.g. a credit and a charge that cancel): nothing to record.
    if (error instanceof LedgerError && error.code === "empty") return null;
    throw error;
  }
}
