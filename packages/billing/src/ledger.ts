// Double-entry ledger as data. Builders return transactions; nothing here stores them.
// Every transaction id is derived from the business event it records (invoice id, payment
// reference, the reversed transaction), so replaying an event yields the same id and
// `balances` counts it once.

import { roundHalfAwayFromZero } from "./money";

export type AccountId =
  | `receivable:${string}`
  | `revenue:${string}`
  | `tax:${string}`
  | `expense:${string}`
  | "cash"
  | "bank"
  | `dealer-wallet:${string}`;

export type Entry =
  | { readonly account: AccountId; readonly debitPaisa: number; readonly creditPaisa?: undefined }
  | { readonly account: AccountId; readonly creditPaisa: number; readonly debitPaisa?: undefined };

export type TransactionKind =
  | "invoice"
  | "payment"
  | "credit_note"
  | "fee"
  | "refund"
  | "reversal"
  | "dealer_transfer"
  | "wallet_topup"
  | "dealer_recharge"
  | "commission";

export interface Transaction {
  /** Deterministic idempotency key, e.g. `invoice:INV-2024-0001`. */
  readonly id: string;
  readonly kind: TransactionKind;
  readonly entries: readonly Entry[];
}

export type LedgerErrorCode = "unbalanced" | "empty" | "negative_amount" | "not_integer" | "invalid_entry" | "duplicate_id" | "wrong_kind";

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly transactionId?: string,
  ) {
    super(message);
    this.name = "LedgerError";
  }
}

export const revenueService: AccountId = "revenue:service";
export const taxPst: AccountId = "tax:pst";
export const receivable = (subscriberId: string): AccountId => `receivable:${subscriberId}`;
export const dealerWallet = (dealerId: string): AccountId => `dealer-wallet:${dealerId}`;
export const revenueFees: AccountId = "revenue:fees";
export const commissionExpense: AccountId = "expense:commission";

const debit = (account: AccountId, debitPaisa: number): Entry => ({ account, debitPaisa });
const credit = (account: AccountId, creditPaisa: number): Entry => ({ account, creditPaisa });

function entryAmount(entry: Entry, txId: string): { debit: number; credit: number } {
  const hasDebit = entry.debitPaisa !== undefined;
  const hasCredit = entry.creditPaisa !== undefined;
  if (hasDebit === hasCredit) throw new LedgerError("invalid_entry", `entry on ${entry.account} must have exactly one of debitPaisa, creditPaisa`, txId);
  const amount = (hasDebit ? entry.debitPaisa : entry.creditPaisa) as number;
  if (!Number.isSafeInteger(amount)) throw new LedgerError("not_integer", `entry on ${entry.account} is not integer paisa: ${amount}`, txId);
  if (amount < 0) throw new LedgerError("negative_amount", `entry on ${entry.account} is negative: ${amount}`, txId);
  return hasDebit ? { debit: amount, credit: 0 } : { debit: 0, credit: amount };
}

/** Throws a LedgerError unless the transaction has entries, all non-negative integers, and debits equal credits. */
export function assertBalanced(tx: Transaction): void {
  if (tx.entries.length === 0) throw new LedgerError("empty", `transaction ${tx.id} has no entries`, tx.id);
  let debits = 0;
  let credits = 0;
  for (const entry of tx.entries) {
    const a = entryAmount(entry, tx.id);
    debits += a.debit;
    credits += a.credit;
  }
  if (debits === 0) throw new LedgerError("empty", `transaction ${tx.id} moves no money`, tx.id);
  if (debits !== credits) throw new LedgerError("unbalanced", `transaction ${tx.id}: debits ${debits} != credits ${credits}`, tx.id);
}

function built(tx: Transaction): Transaction {
  assertBalanced(tx);
  return tx;
}

export interface InvoiceLine {
  readonly description: string;
  readonly amountPaisa: number;
}

export interface InvoiceInput {
  readonly invoiceId: string;
  readonly subscriberId: string;
  /** Net of tax; credits (negative lines, e.g. proration) are allowed as long as the net is positive. */
  readonly lines: readonly InvoiceLine[];
  /** Provincial sales tax rate in basis points (1600 = 16%); 0 or absent for none. */
  readonly pstBasisPoints?: number;
}

/** Tax on the net, rounded once (not per line), so the invoice total matches a hand check. */
export function pstPaisa(netPaisa: number, basisPoints: number): number {
  if (!Number.isInteger(basisPoints) || basisPoints < 0 || basisPoints > 10000) {
    throw new LedgerError("not_integer", `tax rate must be 0..10000 basis points, got ${basisPoints}`);
  }
  return roundHalfAwayFromZero((netPaisa * basisPoints) / 10000);
}

/**
 * Debit the subscriber for the total; credit service revenue with the net and the PST account with the tax.
 * The single-rate form: invoices with tax tables, discounts and several revenue accounts go
 * through `buildInvoice` + `invoiceLedgerTransaction` (invoice.ts), which round tax per line.
 */
export function invoiceTransaction(input: InvoiceInput): Transaction {
  const id = `invoice:${input.invoiceId}`;
  let net = 0;
  for (const line of input.lines) {
    if (!Number.isSafeInteger(line.amountPaisa)) throw new LedgerError("not_integer", `line ${JSON.stringify(line.description)} is not integer paisa`, id);
    net += line.amountPaisa;
  }
  if (net < 0) throw new LedgerError("negative_amount", `invoice ${input.invoiceId} nets to ${net}; issue a credit note instead`, id);
  const tax = pstPaisa(net, input.pstBasisPoints ?? 0);
  const entries: Entry[] = [debit(receivable(input.subscriberId), net + tax), credit(revenueService, net)];
  if (tax > 0) entries.push(credit(taxPst, tax));
  return built({ id, kind: "invoice", entries });
}

/** The mirror of an invoice: revenue and tax go down, the subscriber owes less. */
export function creditNoteTransaction(input: { creditNoteId: string; subscriberId: string; netPaisa: number; pstBasisPoints?: number }): Transaction {
  const id = `credit_note:${input.creditNoteId}`;
  const tax = pstPaisa(input.netPaisa, input.pstBasisPoints ?? 0);
  const entries: Entry[] = [debit(revenueService, input.netPaisa), credit(receivable(input.subscriberId), input.netPaisa + tax)];
  if (tax > 0) entries.push(debit(taxPst, tax));
  return built({ id, kind: "credit_note", entries });
}

/** Money received into cash or bank settles the subscriber's receivable. */
export function paymentTransaction(input: { paymentId: string; subscriberId: string; amountPaisa: number; method: "cash" | "bank" }): Transaction {
  return built({
    id: `payment:${input.paymentId}`,
    kind: "payment",
    entries: [debit(input.method, input.amountPaisa), credit(receivable(input.subscriberId), input.amountPaisa)],
  });
}

/** A one-off charge outside the invoice run; no PST on fees here. Late fees use `lateFeeTransaction` (one per invoice). */
export function feeTransaction(input: { feeId: string; subscriberId: string; amountPaisa: number }): Transaction {
  return built({
    id: `fee:${input.feeId}`,
    kind: "fee",
    entries: [debit(receivable(input.subscriberId), input.amountPaisa), credit("revenue:fees", input.amountPaisa)],
  });
}

/** Money paid back to a subscriber in credit: their receivable rises towards zero as cash or bank goes down. */
export function refundTransaction(input: { refundId: string; subscriberId: string; amountPaisa: number; method: "cash" | "bank" }): Transaction {
  return built({
    id: `refund:${input.refundId}`,
    kind: "refund",
    entries: [debit(receivable(input.subscriberId), input.amountPaisa), credit(input.method, input.amountPaisa)],
  });
}

/** Undoes `tx` by swapping every entry's side; the original stays in the history. */
export function reversalOf(tx: Transaction): Transaction {
  assertBalanced(tx);
  const entries = tx.entries.map((e): Entry => (e.debitPaisa !== undefined ? credit(e.account, e.debitPaisa) : debit(e.account, e.creditPaisa)));
  return built({ id: `reversal:${tx.id}`, kind: "reversal", entries });
}

function sameTransaction(a: Transaction, b: Transaction): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Every account's balance as debits minus credits (so a receivable is positive when the
 * subscriber owes, revenue and tax are negative). A transaction repeated with the same id
 * and content counts once; the same id with different content is a `duplicate_id` error,
 * because two events must never share an idempotency key.
 */
export function balances(transactions: Iterable<Transaction>): Map<AccountId, number> {
  const seen = new Map<string, Transaction>();
  const result = new Map<AccountId, number>();
  for (const tx of transactions) {
    const prior = seen.get(tx.id);
    if (prior) {
      if (!sameTransaction(prior, tx)) throw new LedgerError("duplicate_id", `two different transactions share id ${tx.id}`, tx.id);
      continue;
    }
    assertBalanced(tx);
    seen.set(tx.id, tx);
    for (const entry of tx.entries) {
      const delta = entry.debitPaisa !== undefined ? entry.debitPaisa : -entry.creditPaisa;
      result.set(entry.account, (result.get(entry.account) ?? 0) + delta);
    }
  }
  return result;
}

/** One signed movement: positive debits the account, negative credits it. */
export interface Posting {
  readonly account: AccountId;
  readonly amountPaisa: number;
}

/**
 * Builds a transaction from signed postings: postings on the same account are netted,
 * zero nets are dropped, and the sign picks the side. Used for documents with many revenue
 * and tax accounts (invoices, credit notes) where some lines are credits.
 */
export function postingsTransaction(id: string, kind: TransactionKind, postings: readonly Posting[]): Transaction {
  const net = new Map<AccountId, number>();
  for (const p of postings) {
    if (!Number.isSafeInteger(p.amountPaisa)) throw new LedgerError("not_integer", `posting on ${p.account} is not integer paisa: ${p.amountPaisa}`, id);
    net.set(p.account, (net.get(p.account) ?? 0) + p.amountPaisa);
  }
  const entries: Entry[] = [];
  for (const [account, amount] of net) {
    if (amount > 0) entries.push(debit(account, amount));
    else if (amount < 0) entries.push(credit(account, -amount));
  }
  return built({ id, kind, entries });
}

/**
 * Late fee of one invoice. The id is derived from the invoice alone, so charging the same
 * invoice twice yields the same id (and `balances` refuses it if the amount differs).
 */
export function lateFeeTransaction(input: { invoiceId: string; subscriberId: string; amountPaisa: number }): Transaction {
  return built({
    id: `late_fee:${input.invoiceId}`,
    kind: "fee",
    entries: [debit(receivable(input.subscriberId), input.amountPaisa), credit(revenueFees, input.amountPaisa)],
  });
}

/** A wrong payment is undone by a reversal transaction; the payment stays in the history. */
export function paymentReversalTransaction(payment: Transaction): Transaction {
  if (payment.kind !== "payment") throw new LedgerError("wrong_kind", `${payment.id} is a ${payment.kind}, not a payment`, payment.id);
  return reversalOf(payment);
}

/** Cash or bank received from a dealer raises the wallet (a liability: services owed to the dealer). */
export function walletTopUpTransaction(input: { topUpId: string; dealerId: string; amountPaisa: number; method: "cash" | "bank" }): Transaction {
  return built({
    id: `wallet_topup:${input.topUpId}`,
    kind: "wallet_topup",
    entries: [debit(input.method, input.amountPaisa), credit(dealerWallet(input.dealerId), input.amountPaisa)],
  });
}

/**
 * The dealer pays a subscriber's recharge from the wallet: the wallet goes down and the
 * subscriber's receivable (raised by the recharge invoice) is settled. Overdraft is checked
 * by the caller against the derived balance (see dealer.ts); this only records the event.
 */
export function dealerRechargeTransaction(input: { rechargeId: string; dealerId: string; subscriberId: string; amountPaisa: number }): Transaction {
  return built({
    id: `dealer_recharge:${input.rechargeId}`,
    kind: "dealer_recharge",
    entries: [debit(dealerWallet(input.dealerId), input.amountPaisa), credit(receivable(input.subscriberId), input.amountPaisa)],
  });
}

/** Commission is paid into the dealer's wallet as an expense of the ISP; one per dealer per recharge. */
export function commissionTransaction(input: { rechargeId: string; dealerId: string; amountPaisa: number }): Transaction {
  return built({
    id: `commission:${input.rechargeId}:${input.dealerId}`,
    kind: "commission",
    entries: [debit(commissionExpense, input.amountPaisa), credit(dealerWallet(input.dealerId), input.amountPaisa)],
  });
}

/** What the ISP owes a dealer in services: the wallet account is credit-normal, so the sign flips. */
export function walletBalancePaisa(transactions: Iterable<Transaction>, dealerId: string): number {
  const b = balances(transactions).get(dealerWallet(dealerId)) ?? 0;
  return b === 0 ? 0 : -b;
}
