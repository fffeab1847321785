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
