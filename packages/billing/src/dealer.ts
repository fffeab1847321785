// Dealers (resellers) and sub-dealers. A dealer's wallet is a ledger account
// (`dealer-wallet:<id>`, credit-normal): top-ups raise it, recharges of subscribers spend it,
// commissions are paid into it. The balance is always derived from the ledger; a recharge
// is refused with a typed error when it would overdraw. The database must still serialise
// recharges per dealer (row lock or conditional update): this module checks one request
// against the balance it is given, it cannot see a concurrent one.

import { type CalendarDate, compareDates, formatDate, prepaidRecharge, toDate } from "./cycles";
import { buildInvoice, type InvoiceDocument, invoiceLedgerTransaction } from "./invoice";
import { balances, commissionTransaction, dealerRechargeTransaction, dealerWallet, type Transaction, type TransactionKind } from "./ledger";
import { roundHalfAwayFromZero } from "./money";
import type { TaxRule } from "./tax";

export interface Dealer {
  readonly id: string;
  /** The dealer this one is a sub-dealer of; null for a top-level dealer. */
  readonly parentId: string | null;
  /** Share of this dealer's commission that goes to its parent (0..10000 bp). */
  readonly parentShareBasisPoints: number;
}

export type CommissionRule = {
  /** A specific dealer, or absent for every dealer. */
  readonly dealerId?: string;
  /** A specific plan, or absent for every plan. */
  readonly planId?: string;
} & ({ readonly kind: "percentage"; readonly basisPoints: number } | { readonly kind: "fixed"; readonly amountPaisa: number });

export type DealerErrorCode = "insufficient_funds" | "unknown_dealer" | "dealer_cycle" | "invalid_rule" | "invalid_amount";

export class DealerError extends Error {
  constructor(
    readonly code: DealerErrorCode,
    message: string,
    readonly details: { readonly dealerId?: string; readonly availablePaisa?: number; readonly requiredPaisa?: number } = {},
  ) {
    super(message);
    this.name = "DealerError";
  }
}

/** Bounds the sub-dealer chain; deeper hierarchies are a configuration error. */
export const dealerDepthMax = 8;

/** Most specific rule wins: dealer+plan, then dealer, then plan, then the catch-all. */
export function commissionRuleFor(rules: readonly CommissionRule[], dealerId: string, planId: string): CommissionRule | null {
  const rank = (r: CommissionRule) => (r.dealerId !== undefined ? 2 : 0) + (r.planId !== undefined ? 1 : 0);
  let best: CommissionRule | null = null;
  for (const r of rules) {
    if ((r.dealerId !== undefined && r.dealerId !== dealerId) || (r.planId !== undefined && r.planId !== planId)) continue;
    if (!best || rank(r) > rank(best)) best = r;
  }
  return best;
}

/**
 * Commission for one recharge, on the pre-tax price, split up the dealer chain: each dealer
 * passes `parentShareBasisPoints` of what reaches it to its parent (rounded once per hop).
 * The shares add up to the commission exactly. Zero shares are left out.
 */
export function commissionSplit(args: {
  dealers: ReadonlyMap<string, Dealer>;
  rules: readonly CommissionRule[];
  dealerId: string;
  planId: string;
  netPaisa: number;
}): { dealerId: string; amountPaisa: number }[] {
  const rule = commissionRuleFor(args.rules, args.dealerId, args.planId);
  if (!rule) return [];
  let commission: number;
  if (rule.kind === "percentage") {
    if (!Number.isInteger(rule.basisPoints) || rule.basisPoints < 0 || rule.basisPoints > 10000) throw new DealerError("invalid_rule", `commission must be 0..10000 bp, got ${rule.basisPoints}`);
    commission = roundHalfAwayFromZero((args.netPaisa * rule.basisPoints) / 10000);
  } else {
    if (!Number.isSafeInteger(rule.amountPaisa) || rule.amountPaisa < 0) throw new DealerError("invalid_rule", `fixed commission must be non-negative paisa, got ${rule.amountPaisa}`);
    commission = rule.amountPaisa;
  }
  const shares: { dealerId: string; amountPaisa: number }[] = [];
  const seen = new Set<string>();
  let current = args.dealers.get(args.dealerId);
  let reaching = commission;
  while (current) {
    if (seen.has(current.id)) throw new DealerError("dealer_cycle", `dealer chain of ${args.dealerId} loops at ${current.id}`, { dealerId: current.id });
    if (seen.size >= dealerDepthMax) throw new DealerError("dealer_cycle", `dealer chain of ${args.dealerId} is deeper than ${dealerDepthMax}`, { dealerId: current.id });
    seen.add(current.id);
    const parent = current.parentId === null ? undefined : args.dealers.get(current.parentId);
    if (current.parentId !== null && !parent) throw new DealerError("unknown_dealer", `parent ${current.parentId} of ${current.id} is unknown`, { dealerId: current.parentId });
    const bp = current.parentShareBasisPoints;
    if (!Number.isInteger(bp) || bp < 0 || bp > 10000) throw new DealerError("invalid_rule", `parent share of ${current.id} must be 0..10000 bp, got ${bp}`);
    const up = parent ? roundHalfAwayFromZero((reaching * bp) / 10000) : 0;
    if (reaching - up > 0) shares.push({ dealerId: current.id, amountPaisa: reaching - up });
    reaching = up;
    current = parent;
  }
  if (seen.size === 0) throw new DealerError("unknown_dealer", `dealer ${args.dealerId} is unknown`, { dealerId: args.dealerId });
  return shares;
}

export interface RechargeRequest {
  readonly rechargeId: string;
  /** The recharge receipt's document id; defaults to `recharge-<rechargeId>`. */
  readonly invoiceId?: string;
  readonly dealerId: string;
  readonly subscriberId: string;
  readonly region: string;
  readonly plan: { readonly planId: string; readonly name: string; readonly pricePaisa: number; readonly validityDays: number; readonly service?: string };
  readonly rechargedOn: CalendarDate | string;
  /** First day without service of the current validity, or null. */
  readonly currentExpiresOn: CalendarDate | string | null;
  /** Derived from the ledger by the caller (walletBalancePaisa), read under the dealer's lock. */
  readonly walletBalancePaisa: number;
  readonly taxRules: readonly TaxRule[];
  readonly dealers: ReadonlyMap<string, Dealer>;
  readonly commissionRules: readonly CommissionRule[];
}

export interface RechargeResult {
  readonly invoice: InvoiceDocument;
  /** Recharge invoice, wallet payment, then one commission per dealer in the chain. */
  readonly transactions: readonly Transaction[];
  readonly validity: ReturnType<typeof prepaidRecharge>;
  readonly commissions: readonly { dealerId: string; amountPaisa: number }[];
  /** The recharging dealer's wallet after the recharge and its own commission. */
  readonly walletAfterPaisa: number;
}

/**
 * A dealer recharges a prepaid subscriber: a receipt-invoice for the package (taxes per the
 * table), paid at once from the wallet, validity extended, commissions paid into wallets.
 * Throws `insufficient_funds` (before anything is built) when the gross price exceeds the wallet.
 */
export function rechargeSubscriber(request: RechargeRequest): RechargeResult {
  if (!request.dealers.has(request.dealerId)) throw new DealerError("unknown_dealer", `dealer ${request.dealerId} is unknown`, { dealerId: request.dealerId });
  if (!Number.isSafeInteger(request.walletBalancePaisa)) throw new DealerError("invalid_amount", "wallet balance must be integer paisa");
  if (!Number.isSafeInteger(request.plan.pricePaisa) || request.plan.pricePaisa <= 0) throw new DealerError("invalid_amount", `price must be positive integer paisa, got ${request.plan.pricePaisa}`);
  const validity = prepaidRecharge({ rechargedOn: request.rechargedOn, validityDays: request.plan.validityDays, currentExpiresOn: request.currentExpiresOn });
  const invoice = buildInvoice({
    invoiceId: request.invoiceId ?? `recharge-${request.rechargeId}`,
    subscriberId: request.subscriberId,
    region: request.region,
    issuedOn: request.rechargedOn,
    dueOn: request.rechargedOn,
    charges: [
      {
        kind: "subscription",
        description: `${request.plan.name}, ${formatDate(validity.startsOn)} to ${formatDate(validity.lastDay)} (${request.plan.validityDays} days)`,
        amountPaisa: request.plan.pricePaisa,
        service: request.plan.service ?? "internet",
      },
    ],
    taxRules: request.taxRules,
  });
  const gross = invoice.totals.totalPaisa;
  if (gross > request.walletBalancePaisa) {
    throw new DealerError("insufficient_funds", `dealer ${request.dealerId} has ${request.walletBalancePaisa} paisa, recharge needs ${gross}`, {
      dealerId: request.dealerId,
      availablePaisa: request.walletBalancePaisa,
      requiredPaisa: gross,
    });
  }
  const commissions = commissionSplit({ dealers: request.dealers, rules: request.commissionRules, dealerId: request.dealerId, planId: request.plan.planId, netPaisa: invoice.totals.netPaisa });
  const invoiceTx = invoiceLedgerTransaction(invoice);
  const transactions: Transaction[] = invoiceTx ? [invoiceTx] : [];
  transactions.push(dealerRechargeTransaction({ rechargeId: request.rechargeId, dealerId: request.dealerId, subscriberId: request.subscriberId, amountPaisa: gross }));
  for (const c of commissions) transactions.push(commissionTransaction({ rechargeId: request.rechargeId, dealerId: c.dealerId, amountPaisa: c.amountPaisa }));
  const own = commissions.find((c) => c.dealerId === request.dealerId)?.amountPaisa ?? 0;
  return { invoice, transactions, validity, commissions, walletAfterPaisa: request.walletBalancePaisa - gross + own };
}

export interface DatedTransaction {
  /** Karachi business date the transaction was booked. */
  readonly bookedOn: CalendarDate | string;
  readonly transaction: Transaction;
}

export interface StatementMovement {
  readonly bookedOn: string;
  readonly transactionId: string;
  readonly kind: TransactionKind;
  /** Signed from the dealer's view: positive raises the wallet. */
  readonly amountPaisa: number;
  readonly balanceAfterPaisa: number;
}

export interface DealerStatement {
  readonly dealerId: string;
  readonly from: string;
  /** Exclusive. */
  readonly until: string;
  readonly openingPaisa: number;
  readonly movements: readonly StatementMovement[];
  readonly closingPaisa: number;
}

/**
 * The wallet's statement for [from, until): opening balance (everything booked before
 * `from`), each movement in booking order with the running balance, closing balance. A
 * replayed transaction id counts once, as in `balances`.
 */
export function dealerStatement(history: Iterable<DatedTransaction>, dealerId: string, fromInput: CalendarDate | string, untilInput: CalendarDate | string): DealerStatement {
  const from = toDate(fromInput);
  const until = toDate(untilInput);
  const rowsIn = [...history];
  // Same validation as the balances: every transaction balanced, no id reused for other content.
  balances(rowsIn.map((h) => h.transaction));
  const account = dealerWallet(dealerId);
  const seen = new Set<string>();
  const rows: { on: CalendarDate; i: number; tx: Transaction; amount: number }[] = [];
  let i = 0;
  for (const { bookedOn, transaction } of rowsIn) {
    if (seen.has(transaction.id)) continue;
    seen.add(transaction.id);
    let amount = 0;
    for (const e of transaction.entries) {
      if (e.account !== account) continue;
      amount += e.creditPaisa !== undefined ? e.creditPaisa : -e.debitPaisa;
    }
    if (amount !== 0) rows.push({ on: toDate(bookedOn), i: i++, tx: transaction, amount });
  }
  rows.sort((a, b) => compareDates(a.on, b.on) || a.i - b.i);
  let opening = 0;
  let running = 0;
  const movements: StatementMovement[] = [];
  for (const r of rows) {
    if (compareDates(r.on, until) >= 0) break;
    running += r.amount;
    if (compareDates(r.on, from) < 0) opening = running;
    else movements.push({ bookedOn: formatDate(r.on), transactionId: r.tx.id, kind: r.tx.kind, amountPaisa: r.amount, balanceAfterPaisa: running });
  }
  return { dealerId, from: formatDate(from), until: formatDate(until), openingPaisa: opening, movements, closingPaisa: running };
}
