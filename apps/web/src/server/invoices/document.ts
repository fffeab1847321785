// What an invoice PDF prints, as plain data (pure types; the renderer takes only this).

export interface IspProfile {
  name: string;
  address: string;
  phone: string;
  email: string;
  ntn: string;
  strn: string;
  bankName: string;
  bankAccountTitle: string;
  iban: string;
  jazzCash: string;
  easypaisa: string;
  portalUrl: string;
}

export interface InvoiceDocumentLine {
  position: number;
  description: string;
  chargedPaisa: number;
  discountPaisa: number;
  netPaisa: number;
  taxPaisa: number;
  totalPaisa: number;
  taxes: { name: string; rateBasisPoints: number | null; inclusive: boolean; amountPaisa: number }[];
}

export interface InvoiceDocument {
  id: number;
  number: string;
  kind: "invoice" | "credit_note";
  status: string;
  /** Business dates (YYYY-MM-DD, Pakistan). */
  issuedOn: string;
  dueOn: string;
  periodStart: string;
  periodEnd: string;
  customer: { subscriberId: number; accountNo: string; name: string; address: string; city: string; cnic: string; phone: string; plan: string };
  lines: InvoiceDocumentLine[];
  totals: { netPaisa: number; taxPaisa: number; totalPaisa: number; taxes: { name: string; amountPaisa: number }[] };
  /**
   * The account around this invoice, from the receivable ledger: the balance after the
   * previous invoice, payments and other movements since, this invoice, the amount due.
   * Null when this is the first movement on the account (nothing to carry forward).
   */
  account: { previousInvoiceOn: string | null; previousBalancePaisa: number; paymentsPaisa: number; adjustmentsPaisa: number; amountDuePaisa: number } | null;
  /** The account's balance when the PDF was generated (payments after issue included). */
  balanceNowPaisa: number;
  generatedAt: string;
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-11-01" -> "1 Nov 2026" (a business date: no time zone arithmetic). */
export function formatBusinessDate(day: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return day;
  return `${Number(m[3])} ${months[Number(m[2]) - 1] ?? m[2]} ${m[1]}`;
}
