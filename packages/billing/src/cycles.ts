// Billing periods as pure calendar arithmetic on business dates (Asia/Karachi).
// Periods are half-open: [start, end). `end` is the first day of the next period, so
// consecutive periods share a boundary and day counts are a plain subtraction.

export interface CalendarDate {
  readonly y: number;
  readonly m: number; // 1..12
  readonly d: number; // 1..31
}

export type BillingPlan =
  /** Monthly from the activation day; day 29..31 clamps to short months but the anchor day is kept. */
  | { readonly kind: "monthly_anniversary" }
  /** Monthly on one calendar day for everyone (1..31, clamped to month end). */
  | { readonly kind: "monthly_fixed_day"; readonly day: number }
  | { readonly kind: "quarterly" }
  | { readonly kind: "yearly" }
  /** Prepaid: each recharge buys `validityDays` days starting on the recharge date. */
  | { readonly kind: "prepaid"; readonly validityDays: number };

export interface Period {
  /** 0 for the period containing the anchor, counting up. */
  readonly index: number;
  readonly start: CalendarDate;
  /** Exclusive. */
  readonly end: CalendarDate;
}

export type CycleErrorCode = "invalid_date" | "invalid_plan" | "before_anchor";

export class CycleError extends Error {
  constructor(
    readonly code: CycleErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CycleError";
  }
}

/** Upper bound on prepaid validity; longer packages are sold as yearly plans. */
export const prepaidValidityDaysMax = 3660;

const karachiOffsetMs = 5 * 60 * 60 * 1000; // UTC+5, no DST since 2009
const msPerDay = 24 * 60 * 60 * 1000;

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function assertDate(date: CalendarDate): void {
  const { y, m, d } = date;
  const ok =
    Number.isInteger(y) && Number.isInteger(m) && Number.isInteger(d) && y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
  if (!ok) throw new CycleError("invalid_date", `not a calendar date: ${JSON.stringify(date)}`);
}

/** Accepts "YYYY-MM-DD" or `{ y, m, d }`; rejects impossible dates such as 2100-02-29. */
export function toDate(input: CalendarDate | string): CalendarDate {
  if (typeof input === "string") {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(input);
    if (!match) throw new CycleError("invalid_date", `not an ISO date: ${JSON.stringify(input)}`);
    input = { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
  }
  assertDate(input);
  return { y: input.y, m: input.m, d: input.d };
}

export function formatDate(date: CalendarDate): string {
  assertDate(date);
  return `${String(date.y).padStart(4, "0")}-${String(date.m).padStart(2, "0")}-${String(date.d).padStart(2, "0")}`;
}

/** Days since 1970-01-01; the proleptic Gregorian arithmetic of Date.UTC is exact for whole days. */
export function dayNumber(date: CalendarDate): number {
  assertDate(date);
  return Date.UTC(date.y, date.m - 1, date.d) / msPerDay;
}

function fromDayNumber(n: number): CalendarDate {
  const t = new Date(n * msPerDay);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

export function addDays(date: CalendarDate, days: number): CalendarDate {
  if (!Number.isInteger(days)) throw new CycleError("invalid_date", `days must be an integer, got ${days}`);
  return fromDayNumber(dayNumber(date) + days);
}

/** Negative when a is earlier, 0 when equal, positive when later (in days). */
export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return dayNumber(a) - dayNumber(b);
}

/** Days from a to b (b exclusive). */
export function daysBetween(a: CalendarDate, b: CalendarDate): number {
  return dayNumber(b) - dayNumber(a);
}

/** The Karachi calendar date of an instant; business dates never depend on the server's zone. */
export function businessDate(instant: Date): CalendarDate {
  const ms = instant.getTime();
  if (!Number.isFinite(ms)) throw new CycleError("invalid_date", "invalid instant");
  return fromDayNumber(Math.floor((ms + karachiOffsetMs) / msPerDay));
}

function clampedDay(y: number, m: number, day: number): CalendarDate {
  return { y, m, d: Math.min(day, daysInMonth(y, m)) };
}

/** The month `months` after (y, m), on `day` clamped to that month's end. */
function monthsAfter(y: number, m: number, months: number, day: number): CalendarDate {
  const zeroBased = y * 12 + (m - 1) + months;
  const ny = Math.floor(zeroBased / 12);
  return clampedDay(ny, zeroBased - ny * 12 + 1, day);
}

function assertPlan(plan: BillingPlan): void {
  switch (plan.kind) {
    case "monthly_anniversary":
    case "quarterly":
    case "yearly":
      return;
    case "monthly_fixed_day":
      if (Number.isInteger(plan.day) && plan.day >= 1 && plan.day <= 31) return;
      throw new CycleError("invalid_plan", `fixed billing day must be 1..31, got ${plan.day}`);
    case "prepaid":
      if (Number.isInteger(plan.validityDays) && plan.validityDays >= 1 && plan.validityDays <= prepaidValidityDaysMax) return;
      throw new CycleError("invalid_plan", `prepaid validity must be 1..${prepaidValidityDaysMax} days, got ${plan.validityDays}`);
    default:
      throw new CycleError("invalid_plan", `unknown plan kind ${JSON.stringify((plan as { kind?: unknown }).kind)}`);
  }
}

function stepMonths(plan: BillingPlan): number {
  return plan.kind === "quarterly" ? 3 : plan.kind === "yearly" ? 12 : 1;
}

/** Start of period `index`. Anniversaries are computed from the anchor, never from the previous start, so Jan 31 -> Feb 29 -> Mar 31. */
function periodStart(plan: BillingPlan, anchor: CalendarDate, index: number): CalendarDate {
  switch (plan.kind) {
    case "prepaid":
      return addDays(anchor, index * plan.validityDays);
    case "monthly_fixed_day": {
      // Period 0 is the calendar-aligned period that contains the anchor; activation
      // inside it is a proration concern, not a different cycle.
      const sameMonth = clampedDay(anchor.y, anchor.m, plan.day);
      const base = compareDates(sameMonth, anchor) <= 0 ? 0 : -1;
      return monthsAfter(anchor.y, anchor.m, base + index, plan.day);
    }
    default:
      return monthsAfter(anchor.y, anchor.m, index * stepMonths(plan), anchor.d);
  }
}

export function periodAt(plan: BillingPlan, anchorInput: CalendarDate | string, index: number): Period {
  assertPlan(plan);
  const anchor = toDate(anchorInput);
  if (!Number.isInteger(index) || index < 0) throw new CycleError("before_anchor", `period index must be a non-negative integer, got ${index}`);
  return { index, start: periodStart(plan, anchor, index), end: periodStart(plan, anchor, index + 1) };
}

/** The period containing `date`; throws `before_anchor` for dates before the anchor. */
export function periodContaining(plan: BillingPlan, anchorInput: CalendarDate | string, dateInput: CalendarDate | string): Period {
  assertPlan(plan);
  const anchor = toDate(anchorInput);
  const date = toDate(dateInput);
  if (compareDates(date, anchor) < 0) throw new CycleError("before_anchor", `${formatDate(date)} is before the anchor ${formatDate(anchor)}`);
  let index: number;
  if (plan.kind === "prepaid") {
    index = Math.floor(daysBetween(anchor, date) / plan.validityDays);
  } else {
    // An estimate from whole months, then at most one step back: starts are monotonic
    // and at most one step apart from the estimate because of clamping.
    const months = (date.y - anchor.y) * 12 + (date.m - anchor.m);
    index = Math.max(0, Math.floor(months / stepMonths(plan)) + 1);
    while (index > 0 && compareDates(periodStart(plan, anchor, index), date) > 0) index--;
  }
  return periodAt(plan, anchor, index);
}

export function nextPeriod(plan: BillingPlan, anchor: CalendarDate | string, period: Period): Period {
  return periodAt(plan, anchor, period.index + 1);
}

export function daysInPeriod(period: Period): number {
  return daysBetween(period.start, period.end);
}

/** Last day of service, inclusive (the day before `end`). */
export function lastDay(period: Period): CalendarDate {
  return addDays(period.end, -1);
}

/**
 * Prepaid validity of one recharge: service on `rechargeDate` and the following days,
 * `lastDay` is the last day with service and `expiresOn` the first day without.
 */
export function prepaidValidity(rechargeInput: CalendarDate | string, validityDays: number): { lastDay: CalendarDate; expiresOn: CalendarDate } {
  assertPlan({ kind: "prepaid", validityDays });
  const recharge = toDate(rechargeInput);
  const expiresOn = addDays(recharge, validityDays);
  return { lastDay: addDays(expiresOn, -1), expiresOn };
}

/**
 * A prepaid recharge against the current validity. Recharging before expiry extends from the
 * old expiry (no days are lost); on or after expiry a new validity starts on the recharge date.
 * `currentExpiresOn` is the first day without service of the existing validity, or null.
 */
export function prepaidRecharge(args: {
  rechargedOn: CalendarDate | string;
  validityDays: number;
  currentExpiresOn: CalendarDate | string | null;
}): { startsOn: CalendarDate; lastDay: CalendarDate; expiresOn: CalendarDate; extended: boolean } {
  const recharged = toDate(args.rechargedOn);
  const current = args.currentExpiresOn === null ? null : toDate(args.currentExpiresOn);
  const extended = current !== null && compareDates(current, recharged) > 0;
  const startsOn = extended ? current : recharged;
  const v = prepaidValidity(startsOn, args.validityDays);
  return { startsOn, lastDay: v.lastDay, expiresOn: v.expiresOn, extended };
}
