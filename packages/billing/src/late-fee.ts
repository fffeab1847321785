// Late fees: fixed or a percentage of what is still owed, once an invoice is `afterDays`
// days past its due date, at most once per invoice. Idempotency has two layers: the
// decision reads the invoice's recorded state (`lateFeeCharged`), and the transaction id is
// derived from the invoice alone (`late_fee:<invoiceId>`), so a racing second run collides on
// the id instead of charging twice.

import { roundHalfAwayFromZero } from "./money";
import { businessDate, type CalendarDate, daysBetween, toDate } from "./cycles";
import { lateFeeTransaction, type Transaction } from "./ledger";

export type LateFeeRule =
  | { readonly kind: "fixed"; readonly afterDays: number; readonly amountPaisa: number }
  | {
      readonly kind: "percentage";
      readonly afterDays: number;
      /** Of the outstanding amount of the invoice when the fee is charged. */
      readonly basisPoints: number;
      readonly minPaisa?: number;
      readonly maxPaisa?: number;
    };

export interface LateFeeInvoiceState {
  readonly invoiceId: string;
  readonly subscriberId: string;
  readonly dueOn: CalendarDate | string;
  /** What is still unpaid on this invoice (after allocation); the fee itself is not included. */
  readonly outstandingPaisa: number;
  /** Recorded by the run that charged the fee. */
  readonly lateFeeCharged: boolean;
}

export type LateFeeDecision =
  | { readonly charge: false; readonly reason: "already_charged" | "not_overdue_enough" | "paid" | "zero_fee"; readonly daysOverdue: number }
  | { readonly charge: true; readonly amountPaisa: number; readonly daysOverdue: number; readonly transaction: Transaction };

export class LateFeeError extends Error {
  constructor(
    readonly code: "invalid_rule" | "invalid_state",
    message: string,
  ) {
    super(message);
    this.name = "LateFeeError";
  }
}

function assertRule(rule: LateFeeRule): void {
  if (!Number.isInteger(rule.afterDays) || rule.afterDays < 1) throw new LateFeeError("invalid_rule", `afterDays must be a positive integer, got ${rule.afterDays}`);
  const nonNegative = (v: number | undefined, name: string) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new LateFeeError("invalid_rule", `${name} must be non-negative integer paisa, got ${v}`);
  };
  if (rule.kind === "fixed") return nonNegative(rule.amountPaisa, "amountPaisa");
  if (rule.kind !== "percentage") throw new LateFeeError("invalid_rule", `unknown late fee kind ${JSON.stringify((rule as { kind?: unknown }).kind)}`);
  if (!Number.isInteger(rule.basisPoints) || rule.basisPoints < 0 || rule.basisPoints > 10000) {
    throw new LateFeeError("invalid_rule", `basisPoints must be 0..10000, got ${rule.basisPoints}`);
  }
  nonNegative(rule.minPaisa, "minPaisa");
  nonNegative(rule.maxPaisa, "maxPaisa");
  if (rule.minPaisa !== undefined && rule.maxPaisa !== undefined && rule.minPaisa > rule.maxPaisa) throw new LateFeeError("invalid_rule", "minPaisa exceeds maxPaisa");
}

/** The fee for an outstanding amount, before the "once per invoice" check. */
export function lateFeeAmount(rule: LateFeeRule, outstandingPaisa: number): number {
  assertRule(rule);
  if (rule.kind === "fixed") return rule.amountPaisa;
  let fee = roundHalfAwayFromZero((outstandingPaisa * rule.basisPoints) / 10000);
  if (rule.minPaisa !== undefined) fee = Math.max(fee, rule.minPaisa);
  if (rule.maxPaisa !== undefined) fee = Math.min(fee, rule.maxPaisa);
  return fee;
}

/**
 * Decides the late fee of one invoice at `now`. Days overdue count Karachi business days
 * after the due date: due 2024-02-29 and afterDays 3 charges from 2024-03-03 on.
 */
export function evaluateLateFee(rule: LateFeeRule, invoice: LateFeeInvoiceState, now: Date): LateFeeDecision {
  assertRule(rule);
  if (!Number.isSafeInteger(invoice.outstandingPaisa) || invoice.outstandingPaisa < 0) {
    throw new LateFeeError("invalid_state", `invoice ${invoice.invoiceId}: outstanding must be non-negative integer paisa, got ${invoice.outstandingPaisa}`);
  }
  const daysOverdue = Math.max(0, daysBetween(toDate(invoice.dueOn), businessDate(now)));
  if (invoice.lateFeeCharged) return { charge: false, reason: "already_charged", daysOverdue };
  if (invoice.outstandingPaisa === 0) return { charge: false, reason: "paid", daysOverdue };
  if (daysOverdue < rule.afterDays) return { charge: false, reason: "not_overdue_enough", daysOverdue };
  const amountPaisa = lateFeeAmount(rule, invoice.outstandingPaisa);
  if (amountPaisa === 0) return { charge: false, reason: "zero_fee", daysOverdue };
  return {
    charge: true,
    amountPaisa,
    daysOverdue,
    transaction: lateFeeTransaction({ invoiceId: invoice.invoiceId, subscriberId: invoice.subscriberId, amountPaisa }),
  };
}
