// Taxes as data. A rule says which lines it applies to (region, service, validity dates),
// its rate in basis points and whether prices already include it. Tax is computed per line
// and per rule and rounded there, once (roundHalfAwayFromZero); invoice totals are plain
// sums of the line figures, so the total always equals the sum of its lines.

import { roundHalfAwayFromZero } from "./money";
import { type CalendarDate, compareDates, formatDate, toDate } from "./cycles";
import type { AccountId } from "./ledger";

export interface TaxRule {
  /** Stable id, shown per line and used to group totals, e.g. "pst-sindh". */
  readonly id: string;
  /** Printed on the invoice, e.g. "Sindh sales tax on services 19.5%". */
  readonly name: string;
  /** Ledger account collecting this tax. */
  readonly account: AccountId;
  /** 1950 = 19.5%; 0..10000. */
  readonly rateBasisPoints: number;
  /** true: the line amount already contains this tax (extracted); false: added on top. */
  readonly inclusive: boolean;
  /** Regions this rule applies in; absent = everywhere. */
  readonly regions?: readonly string[];
  /** Services this rule applies to; absent = every service. */
  readonly services?: readonly string[];
  /** First business date the rule applies ("YYYY-MM-DD"); absent = always. */
  readonly from?: string;
  /** First business date it no longer applies (exclusive); absent = open-ended. */
  readonly until?: string;
}

export interface TaxContext {
  readonly region: string;
  readonly service: string;
  /** The document's tax point (invoice date), a Karachi business date. */
  readonly on: CalendarDate | string;
}

export interface LineTax {
  readonly ruleId: string;
  readonly name: string;
  readonly account: AccountId;
  readonly rateBasisPoints: number;
  readonly inclusive: boolean;
  readonly amountPaisa: number;
}

export interface TaxedAmount {
  /** The taxable base, excluding every tax. */
  readonly netPaisa: number;
  readonly taxes: readonly LineTax[];
  /** net + every tax: what the subscriber pays for this line. */
  readonly grossPaisa: number;
}

export type TaxErrorCode = "invalid_rule" | "invalid_amount" | "duplicate_rule";

export class TaxError extends Error {
  constructor(
    readonly code: TaxErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "TaxError";
  }
}

/** Bounds the number of taxes on one line; a misconfigured table fails loudly instead of stacking. */
export const taxesPerLineMax = 8;

export function assertTaxRules(rules: readonly TaxRule[]): void {
  const ids = new Set<string>();
  for (const rule of rules) {
    if (!rule.id) throw new TaxError("invalid_rule", "tax rule without an id");
    if (ids.has(rule.id)) throw new TaxError("duplicate_rule", `tax rule id ${rule.id} is used twice`);
    ids.add(rule.id);
    if (!Number.isInteger(rule.rateBasisPoints) || rule.rateBasisPoints < 0 || rule.rateBasisPoints > 10000) {
      throw new TaxError("invalid_rule", `tax rule ${rule.id}: rate must be 0..10000 basis points, got ${rule.rateBasisPoints}`);
    }
    if (!rule.account.startsWith("tax:")) throw new TaxError("invalid_rule", `tax rule ${rule.id}: account must be a tax:* account, got ${rule.account}`);
    try {
      if (rule.from !== undefined) toDate(rule.from);
      if (rule.until !== undefined) toDate(rule.until);
    } catch {
      throw new TaxError("invalid_rule", `tax rule ${rule.id}: from/until must be YYYY-MM-DD`);
    }
    if (rule.from !== undefined && rule.until !== undefined && compareDates(toDate(rule.from), toDate(rule.until)) >= 0) {
      throw new TaxError("invalid_rule", `tax rule ${rule.id}: from ${rule.from} is not before until ${rule.until}`);
    }
  }
}

/** The rules that apply to one line, in table order (which is also the order printed). */
export function applicableRules(rules: readonly TaxRule[], context: TaxContext): TaxRule[] {
  const on = toDate(context.on);
  const matched = rules.filter(
    (r) =>
      (r.regions === undefined || r.regions.includes(context.region)) &&
      (r.services === undefined || r.services.includes(context.service)) &&
      (r.from === undefined || compareDates(on, toDate(r.from)) >= 0) &&
      (r.until === undefined || compareDates(on, toDate(r.until)) < 0),
  );
  if (matched.length > taxesPerLineMax) {
    throw new TaxError("invalid_rule", `${matched.length} taxes match ${context.region}/${context.service} on ${formatDate(on)}; at most ${taxesPerLineMax}`);
  }
  return matched;
}

/** `base * bp / 10000`, rounded once. Exact below 2^53 because the product is an integer. */
export function taxOn(basePaisa: number, basisPoints: number): number {
  const product = basePaisa * basisPoints;
  if (!Number.isSafeInteger(product)) throw new TaxError("invalid_amount", `amount ${basePaisa} is too large to tax exactly`);
  return roundHalfAwayFromZero(product / 10000);
}

/**
 * Taxes one line amount under the given rules (already filtered with applicableRules).
 *
 * Exclusive rules: each tax is `round(net × rate)`, computed on the net, not compounded.
 * Inclusive rules: the amount is gross of them; net = round(amount × 10000 / (10000 + Σ rates)),
 * each inclusive tax is round(net × rate) except the last, which takes what is left, so that
 * net + inclusive taxes equals the printed price exactly. Exclusive rules on the same line are
 * then added on that net. Negative amounts (credits) are taxed symmetrically.
 */
export function taxLine(amountPaisa: number, rules: readonly TaxRule[]): TaxedAmount {
  if (!Number.isSafeInteger(amountPaisa)) throw new TaxError("invalid_amount", `amount must be integer paisa, got ${amountPaisa}`);
  const inclusive = rules.filter((r) => r.inclusive);
  const inclusiveBp = inclusive.reduce((s, r) => s + r.rateBasisPoints, 0);
  let net = amountPaisa;
  if (inclusiveBp > 0) {
    const product = amountPaisa * 10000;
    if (!Number.isSafeInteger(product)) throw new TaxError("invalid_amount", `amount ${amountPaisa} is too large to tax exactly`);
    net = roundHalfAwayFromZero(product / (10000 + inclusiveBp));
  }
  const taxes: LineTax[] = [];
  let inclusiveLeft = amountPaisa - net;
  let inclusiveSeen = 0;
  for (const rule of rules) {
    let amount: number;
    if (rule.inclusive) {
      inclusiveSeen++;
      amount = inclusiveSeen === inclusive.length ? inclusiveLeft : taxOn(net, rule.rateBasisPoints);
      inclusiveLeft -= amount;
    } else {
      amount = taxOn(net, rule.rateBasisPoints);
    }
    taxes.push({ ruleId: rule.id, name: rule.name, account: rule.account, rateBasisPoints: rule.rateBasisPoints, inclusive: rule.inclusive, amountPaisa: amount === 0 ? 0 : amount });
  }
  const gross = net + taxes.reduce((s, t) => s + t.amountPaisa, 0);
  return { netPaisa: net, taxes, grossPaisa: gross };
}

/**
 * An example table for Pakistani broadband, as data. The rates are configuration, not law:
 * the provinces and the federal government change them in their finance acts, so operators
 * must load their own table (with from/until dates) rather than trust these defaults.
 */
export const pakistanInternetTaxRulesExample: readonly TaxRule[] = [
  { id: "sst-sindh", name: "Sindh sales tax on services", account: "tax:sst-sindh", rateBasisPoints: 1950, inclusive: false, regions: ["sindh"], services: ["internet"] },
  { id: "pst-punjab", name: "Punjab sales tax on services", account: "tax:pst-punjab", rateBasisPoints: 1600, inclusive: false, regions: ["punjab"], services: ["internet"] },
  { id: "st-kp", name: "KP sales tax on services", account: "tax:st-kp", rateBasisPoints: 1950, inclusive: false, regions: ["kp"], services: ["internet"] },
  { id: "st-ict", name: "ICT sales tax on services", account: "tax:st-ict", rateBasisPoints: 1600, inclusive: false, regions: ["ict"], services: ["internet"] },
  { id: "ait", name: "Advance income tax", account: "tax:ait", rateBasisPoints: 1500, inclusive: false, services: ["internet"] },
];
