// The web app's one money formatter: integer paisa in, "PKR 1,234.50" out, always two
// decimals (statements line up). @isp/billing's formatMoney drops ".00" on whole amounts,
// which suits plan prices but not ledgers, so this wraps the same integer arithmetic.

export function formatPkr(paisa: number): string {
  if (!Number.isSafeInteger(paisa)) return "—";
  const negative = paisa < 0;
  const abs = Math.abs(paisa);
  const major = Math.floor(abs / 100).toLocaleString("en-US");
  const minor = String(abs % 100).padStart(2, "0");
  return `${negative ? "-" : ""}PKR ${major}.${minor}`;
}

/** The largest single payment accepted from a form: Rs 10,000,000 (a typo guard, not policy). */
export const paymentMaxPaisa = 1_000_000_000;

export type RupeeParse = { ok: true; paisa: number } | { ok: false; error: string };

/**
 * A rupee amount typed by an operator, strictly: digits with an optional "," every three
 * digits and at most two decimals ("1,234.5", "1234.50", "500"). No sign, no exponent,
 * no currency text; zero and anything above `paymentMaxPaisa` are refused. Integer
 * arithmetic on the digits, never a float.
 */
export function parseRupees(text: string, maxPaisa = paymentMaxPaisa): RupeeParse {
  const t = text.trim();
  if (t.length === 0) return { ok: false, error: "Enter an amount" };
  if (t.length > 20) return { ok: false, error: "Amount is too long" };
  if (t.startsWith("-")) return { ok: false, error: "Amount cannot be negative" };
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return { ok: false, error: "Use digits only, e.g. 1,500 or 1500.50" };
  const fraction = m[2] ?? "";
  if (fraction.length > 2) return { ok: false, error: "At most two decimals (paisa)" };
  const whole = m[1]!.replace(/,/g, "");
  if (whole.length > 12) return { ok: false, error: "Amount is too large" };
  const paisa = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  if (!Number.isSafeInteger(paisa)) return { ok: false, error: "Amount is too large" };
  if (paisa <= 0) return { ok: false, error: "Amount must be more than zero" };
  if (paisa > maxPaisa) return { ok: false, error: `At most ${formatPkr(maxPaisa)} per payment` };
  return { ok: true, paisa };
}
