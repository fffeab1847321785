// Proration by days within one billing period. A change takes effect at the start of its
// effective business date: days before it belong to the old state, the effective date and
// the days after it to the new one. Each line is computed as an exact fraction of the
// period price and rounded once (roundHalfAwayFromZero), so lines never carry rounding
// from another line.

import { roundHalfAwayFromZero } from "./money";
import { type CalendarDate, compareDates, daysBetween, daysInPeriod, formatDate, lastDay, type Period, toDate } from "./cycles";

export interface PricedPlan {
  readonly name: string;
  /** Price of one full period, before tax. */
  readonly pricePaisa: number;
}

export interface ProrationLine {
  readonly description: string;
  /** Positive charges, negative credits. */
  readonly amountPaisa: number;
}

export interface ProrationResult {
  readonly lines: readonly ProrationLine[];
  readonly netPaisa: number;
  /** The net is negative: the subscriber is owed money and gets a credit note, not an invoice. */
  readonly creditNoteDue: boolean;
}

export type ProrationErrorCode = "invalid_price" | "date_outside_period" | "invalid_period";

export class ProrationError extends Error {
  constructor(
    readonly code: ProrationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ProrationError";
  }
}

function assertPrice(plan: PricedPlan): void {
  if (!Number.isSafeInteger(plan.pricePaisa) || plan.pricePaisa < 0) {
    throw new ProrationError("invalid_price", `price of ${JSON.stringify(plan.name)} must be non-negative integer paisa, got ${plan.pricePaisa}`);
  }
}

/** `pricePaisa * days / periodDays`, rounded once. The product is an exact integer below 2^53, so the one division is the only inexact step. */
export function prorate(pricePaisa: number, days: number, periodDays: number): number {
  if (!Number.isSafeInteger(pricePaisa)) throw new ProrationError("invalid_price", `price must be integer paisa, got ${pricePaisa}`);
  if (!Number.isInteger(periodDays) || periodDays <= 0 || !Number.isInteger(days) || days < 0 || days > periodDays) {
    throw new ProrationError("invalid_period", `cannot prorate ${days} of ${periodDays} days`);
  }
  const numerator = pricePaisa * days;
  if (!Number.isSafeInteger(numerator)) throw new ProrationError("invalid_price", `price ${pricePaisa} is too large to prorate exactly`);
  return roundHalfAwayFromZero(numerator / periodDays);
}

/** Days from `effective` to the end of the period; throws if `effective` is outside it. */
function remainingDays(period: Period, effectiveInput: CalendarDate | string): { effective: CalendarDate; days: number; total: number } {
  const effective = toDate(effectiveInput);
  const total = daysInPeriod(period);
  if (total <= 0) throw new ProrationError("invalid_period", `period ${formatDate(period.start)}..${formatDate(period.end)} is empty`);
  if (compareDates(effective, period.start) < 0 || compareDates(effective, period.end) >= 0) {
    throw new ProrationError("date_outside_period", `${formatDate(effective)} is outside ${formatDate(period.start)}..${formatDate(lastDay(period))}`);
  }
  return { effective, days: daysBetween(effective, period.end), total };
}

/** Avoids -0, which would leak into equality checks and JSON. */
function negate(paisa: number): number {
  return paisa === 0 ? 0 : -paisa;
}

function result(lines: ProrationLine[]): ProrationResult {
  const netPaisa = lines.reduce((sum, line) => sum + line.amountPaisa, 0);
  return { lines, netPaisa, creditNoteDue: netPaisa < 0 };
}

function range(from: CalendarDate, period: Period, days: number, total: number): string {
  return `${formatDate(from)} to ${formatDate(lastDay(period))} (${days}/${total} days)`;
}

/** Activation inside a period: charge the activation day through the end of the period. */
export function prorateActivation(args: { period: Period; plan: PricedPlan; activatedOn: CalendarDate | string }): ProrationResult {
  assertPrice(args.plan);
  const { effective, days, total } = remainingDays(args.period, args.activatedOn);
  return result([{ description: `${args.plan.name}, ${range(effective, args.period, days, total)}`, amountPaisa: prorate(args.plan.pricePaisa, days, total) }]);
}

/**
 * Termination inside a period that was billed in advance: credit the unused days, from
 * the termination date (no service that day) through the end of the period.
 */
export function prorateTermination(args: { period: Period; plan: PricedPlan; terminatedOn: CalendarDate | string }): ProrationResult {
  assertPrice(args.plan);
  const { effective, days, total } = remainingDays(args.period, args.terminatedOn);
  if (days === 0) return result([]);
  return result([
    { description: `Credit: unused ${args.plan.name}, ${range(effective, args.period, days, total)}`, amountPaisa: negate(prorate(args.plan.pricePaisa, days, total)) },
  ]);
}

/**
 * Upgrade or downgrade inside a period billed in advance at the old price: credit the
 * unused part of the old plan and charge the new plan for the same days. Both lines are
 * rounded separately, so the net can differ by a paisa from prorating the difference.
 */
export function prorateChange(args: { period: Period; from: PricedPlan; to: PricedPlan; effectiveOn: CalendarDate | string }): ProrationResult {
  assertPrice(args.from);
  assertPrice(args.to);
  const { effective, days, total } = remainingDays(args.period, args.effectiveOn);
  const kind = args.to.pricePaisa >= args.from.pricePaisa ? "Upgrade" : "Downgrade";
  const when = range(effective, args.period, days, total);
  return result([
    { description: `Credit: unused ${args.from.name}, ${when}`, amountPaisa: negate(prorate(args.from.pricePaisa, days, total)) },
    { description: `${kind} to ${args.to.name}, ${when}`, amountPaisa: prorate(args.to.pricePaisa, days, total) },
  ]);
}
