// Money is integer minor units (paisa for PKR) with a currency code; never floats.
// One rounding rule for the whole product: half away from zero, applied once, where a
// fractional amount first appears (see roundHalfAwayFromZero).

export type CurrencyCode = "PKR" | "USD";

export interface Money {
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
}

const minorDigits: Record<CurrencyCode, number> = { PKR: 2, USD: 2 };
const symbols: Record<CurrencyCode, string> = { PKR: "Rs", USD: "$" };

export class MoneyError extends Error {
  constructor(
    readonly code: "not_integer" | "currency_mismatch" | "unsafe_integer",
    message: string,
  ) {
    super(message);
    this.name = "MoneyError";
  }
}

function assertMinor(amountMinor: number): void {
  if (!Number.isInteger(amountMinor)) throw new MoneyError("not_integer", `amount must be integer minor units, got ${amountMinor}`);
  if (!Number.isSafeInteger(amountMinor)) throw new MoneyError("unsafe_integer", `amount ${amountMinor} exceeds the safe integer range`);
}

export function money(amountMinor: number, currency: CurrencyCode = "PKR"): Money {
  assertMinor(amountMinor);
  return { amountMinor, currency };
}

export function add(a: Money, b: Money): Money {
  if (a.currency !== b.currency) throw new MoneyError("currency_mismatch", `cannot add ${a.currency} and ${b.currency}`);
  return money(a.amountMinor + b.amountMinor, a.currency);
}

/** The product's single rounding rule: half away from zero. */
export function roundHalfAwayFromZero(value: number): number {
  const rounded = Math.round(Math.abs(value));
  return value < 0 ? -rounded : rounded;
}

/** Parses "1,500.50" or "1500" (major units) into minor units without float drift. */
export function parseMajor(text: string, currency: CurrencyCode = "PKR"): Money {
  const cleaned = text.replace(/[,\s]/g, "").replace(/^(Rs\.?|PKR|\$)/i, "");
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(cleaned);
  if (!match) throw new MoneyError("not_integer", `not an amount: ${JSON.stringify(text)}`);
  const digits = minorDigits[currency];
  const fraction = (match[3] ?? "").padEnd(digits, "0");
  if (fraction.length > digits) throw new MoneyError("not_integer", `more than ${digits} decimal places: ${text}`);
  const minor = Number(match[2]) * 10 ** digits + Number(fraction || "0");
  return money(match[1] ? -minor : minor, currency);
}

/** "Rs 1,500" for whole amounts, "Rs 1,500.50" otherwise. */
export function formatMoney(amountMinor: number, currency: CurrencyCode = "PKR"): string {
  assertMinor(amountMinor);
  const digits = minorDigits[currency];
  const scale = 10 ** digits;
  const negative = amountMinor < 0;
  const abs = Math.abs(amountMinor);
  const major = Math.floor(abs / scale);
  const minor = abs % scale;
  const majorText = major.toLocaleString("en-US");
  const text = minor === 0 ? majorText : `${majorText}.${String(minor).padStart(digits, "0")}`;
  return `${negative ? "-" : ""}${symbols[currency]} ${text}`;
}
