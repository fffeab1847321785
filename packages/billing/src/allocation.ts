// Payment allocation as a derivation, not stored state: given everything a subscriber owes
// (invoices, late fees) and every credit they have (payments, credit notes, dealer
// recharges), match them oldest-first. Re-deriving after a reversal reopens what the
// reversed payment had paid, so a reversal never needs to edit an allocation row. Credits
// beyond what is owed are the advance balance, which the next invoice consumes by the same rule.

import { compareDates, type CalendarDate, formatDate, toDate } from "./cycles";

export interface Debit {
  /** e.g. "invoice:INV-7" or "late_fee:INV-7". */
  readonly id: string;
  readonly dueOn: CalendarDate | string;
  readonly amountPaisa: number;
}

export interface Credit {
  /** e.g. "payment:P-1", "credit_note:CN-2". */
  readonly id: string;
  readonly on: CalendarDate | string;
  readonly amountPaisa: number;
  /** A reversed credit takes no part in allocation (the reversal is in the ledger). */
  readonly reversed?: boolean;
}

export interface Allocation {
  readonly creditId: string;
  readonly debitId: string;
  readonly amountPaisa: number;
}

export type DebitStatus = "paid" | "partial" | "open";

export interface DebitState {
  readonly id: string;
  readonly dueOn: string;
  readonly amountPaisa: number;
  readonly paidPaisa: number;
  readonly outstandingPaisa: number;
  readonly status: DebitStatus;
}

export interface Settlement {
  /** Oldest first. */
  readonly debits: readonly DebitState[];
  readonly allocations: readonly Allocation[];
  readonly outstandingPaisa: number;
  /** Credit not yet matched to anything owed: carried to the next invoice. */
  readonly advancePaisa: number;
}

export class AllocationError extends Error {
  constructor(
    readonly code: "invalid_amount" | "duplicate_id",
    message: string,
  ) {
    super(message);
    this.name = "AllocationError";
  }
}

/** Bounds one derivation; a subscriber with more open items is a data problem to look at. */
export const allocationItemsMax = 100_000;

function checked<T extends { id: string; amountPaisa: number }>(items: readonly T[], what: string): void {
  if (items.length > allocationItemsMax) throw new AllocationError("invalid_amount", `more than ${allocationItemsMax} ${what}`);
  const ids = new Set<string>();
  for (const item of items) {
    if (!Number.isSafeInteger(item.amountPaisa) || item.amountPaisa <= 0) {
      throw new AllocationError("invalid_amount", `${what} ${item.id}: amount must be positive integer paisa, got ${item.amountPaisa}`);
    }
    if (ids.has(item.id)) throw new AllocationError("duplicate_id", `${what} ${item.id} appears twice`);
    ids.add(item.id);
  }
}

/** Stable sort by date; equal dates keep the caller's order (which should be issue order). */
function byDate<T>(items: readonly T[], date: (item: T) => CalendarDate): T[] {
  return items
    .map((item, i) => ({ item, i, d: date(item) }))
    .sort((a, b) => compareDates(a.d, b.d) || a.i - b.i)
    .map((x) => x.item);
}

export function settle(debits: readonly Debit[], credits: readonly Credit[]): Settlement {
  checked(debits, "debit");
  checked(credits, "credit");
  const open = byDate(debits, (d) => toDate(d.dueOn)).map((d) => ({ id: d.id, dueOn: formatDate(toDate(d.dueOn)), amountPaisa: d.amountPaisa, paidPaisa: 0 }));
  const live = byDate(
    credits.filter((c) => !c.reversed),
    (c) => toDate(c.on),
  );
  const allocations: Allocation[] = [];
  let next = 0;
  let advance = 0;
  for (const credit of live) {
    let left = credit.amountPaisa;
    while (left > 0 && next < open.length) {
      const debit = open[next];
      if (!debit) break;
      const take = Math.min(left, debit.amountPaisa - debit.paidPaisa);
      debit.paidPaisa += take;
      left -= take;
      allocations.push({ creditId: credit.id, debitId: debit.id, amountPaisa: take });
      if (debit.paidPaisa === debit.amountPaisa) next++;
    }
    advance += left;
  }
  const states: DebitState[] = open.map((d) => {
    const outstandingPaisa = d.amountPaisa - d.paidPaisa;
    return { ...d, outstandingPaisa, status: outstandingPaisa === 0 ? "paid" : d.paidPaisa > 0 ? "partial" : "open" };
  });
  return { debits: states, allocations, outstandingPaisa: states.reduce((s, d) => s + d.outstandingPaisa, 0), advancePaisa: advance };
}

/**
 * Allocates one new payment over the currently open items (oldest first); what is left is
 * advance. The incremental form of `settle`, for showing "this payment paid ..." on a receipt.
 */
export function allocatePayment(open: readonly Debit[], paymentId: string, amountPaisa: number): { allocations: Allocation[]; advancePaisa: number } {
  const s = settle(open, [{ id: paymentId, on: "1970-01-01", amountPaisa }]);
  return { allocations: [...s.allocations], advancePaisa: s.advancePaisa };
}
