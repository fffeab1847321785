// Cash and bank payments. One transaction: the subscriber's row lock (so concurrent
// payments for one subscriber allocate one after the other), the payment row (receipt
// number unique: a retry returns the first result), its ledger transaction, the
// re-derived allocation (invoice statuses), a dunning evaluation — a payment that clears
// the balance emits the restore at once — and the audit row.
import { paymentReversalTransaction, paymentTransaction, type Transaction } from "@isp/billing/ledger";
import { formatDate, businessDate } from "@isp/billing/cycles";
import {
  type LedgerTxInput,
  audit,
  findPayment,
  insertLedgerTransactions,
  insertPayment,
  ledgerTransaction,
  loadAccountHistories,
  markPaymentReversed,
  setInvoiceStatuses,
  withTransaction,
  writeDunning,
} from "@isp/db/billing-store";
import type pg from "pg";
import { evaluateAccount } from "./account";
import { type BillingConfig, defaultBillingConfig } from "./config";

export interface PaymentRequest {
  subscriberId: number;
  receiptNo: string;
  amountPaisa: number;
  method: "cash" | "bank_transfer";
  receivedAt: Date;
  operatorId: number | null;
  actor: string;
}

export interface PaymentOutcome {
  duplicate: boolean;
  balancePaisa: number;
  /** Dunning action keys emitted by this payment (e.g. the restore). */
  actions: number;
}

export class PaymentError extends Error {
  override name = "PaymentError";
}

function toStored(tx: Transaction, subscriberId: number, occurredOn: string): LedgerTxInput {
  return { key: tx.id, kind: tx.kind, subscriberId, occurredOn, entries: tx.entries.map((e) => ({ account: e.account, amountPaisa: e.debitPaisa ?? -e.creditPaisa })) };
}

async function reevaluate(c: pg.PoolClient, subscriberId: number, cfg: BillingConfig, now: Date): Promise<{ balancePaisa: number; actions: number }> {
  const [h] = await loadAccountHistories(c, [subscriberId]);
  if (!h) throw new PaymentError(`subscriber ${subscriberId} does not exist`);
  const e = evaluateAccount(h, cfg, now);
  await setInvoiceStatuses(c, e.invoiceStatuses);
  const w = await writeDunning(c, e.dunning ? [e.dunning] : []);
  return { balancePaisa: e.balancePaisa, actions: w.actions };
}

export async function recordPayment(pool: pg.Pool, req: PaymentRequest, opts: { config?: Partial<BillingConfig>; now?: Date } = {}): Promise<PaymentOutcome> {
  if (!Number.isSafeInteger(req.amountPaisa) || req.amountPaisa <= 0) throw new PaymentError("amount must be a positive whole number of paisa");
  if (!/^[A-Za-z0-9][A-Za-z0-9/_.-]{0,63}$/.test(req.receiptNo)) throw new PaymentError("receipt number must be 1-64 letters, digits or / _ . -");
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const now = opts.now ?? new Date();
  return withTransaction(pool, async (c) => {
    const lock = await c.query(`SELECT id FROM subscribers WHERE id = $1 FOR UPDATE`, [req.subscriberId]);
    if (lock.rowCount === 0) throw new PaymentError(`subscriber ${req.subscriberId} does not exist`);
    const inserted = await insertPayment(c, { ...req });
    if (!inserted) {
      const [h] = await loadAccountHistories(c, [req.subscriberId]);
      const e = h ? evaluateAccount(h, cfg, now) : null;
      return { duplicate: true, balancePaisa: e?.balancePaisa ?? 0, actions: 0 };
    }
    const tx = paymentTransaction({
      paymentId: req.receiptNo,
      subscriberId: String(req.subscriberId),
      amountPaisa: req.amountPaisa,
      method: req.method === "cash" ? "cash" : "bank",
    });
    await insertLedgerTransactions(c, [toStored(tx, req.subscriberId, formatDate(businessDate(req.receivedAt)))]);
    const r = await reevaluate(c, req.subscriberId, cfg, now);
    await audit(c, {
      operatorId: req.operatorId,
      actor: req.actor,
      action: "payment.record",
      entityType: "subscriber",
      entityId: String(req.subscriberId),
      details: { receiptNo: req.receiptNo, amountPaisa: req.amountPaisa, method: req.method, balancePaisa: r.balancePaisa, dunningActions: r.actions },
    });
    return { duplicate: false, ...r };
  });
}

/** Reverses a payment through the ledger (never an edit) and re-derives the allocation. */
export async function reversePayment(
  pool: pg.Pool,
  req: { receiptNo: string; reason: string; operatorId: number | null; actor: string },
  opts: { config?: Partial<BillingConfig>; now?: Date } = {},
): Promise<PaymentOutcome> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const now = opts.now ?? new Date();
  return withTransaction(pool, async (c) => {
    const p = await findPayment(c, req.receiptNo);
    if (!p) throw new PaymentError(`no payment with receipt ${req.receiptNo}`);
    await c.query(`SELECT id FROM subscribers WHERE id = $1 FOR UPDATE`, [p.subscriberId]);
    if (!(await markPaymentReversed(c, req.receiptNo, req.reason))) {
      const [h] = await loadAccountHistories(c, [p.subscriberId]);
      return { duplicate: true, balancePaisa: h ? evaluateAccount(h, cfg, now).balancePaisa : 0, actions: 0 };
    }
    const stored = await ledgerTransaction(c, `payment:${req.receiptNo}`);
    if (!stored) throw new PaymentError(`payment ${req.receiptNo} has no ledger transaction`);
    const original: Transaction = {
      id: stored.key,
      kind: "payment",
      entries: stored.entries.map((e) =>
        e.amountPaisa > 0
          ? { account: e.account as Transaction["entries"][number]["account"], debitPaisa: e.amountPaisa }
          : { account: e.account as Transaction["entries"][number]["account"], creditPaisa: -e.amountPaisa },
      ),
    };
    await insertLedgerTransactions(c, [toStored(paymentReversalTransaction(original), p.subscriberId, formatDate(businessDate(now)))]);
    const r = await reevaluate(c, p.subscriberId, cfg, now);
    await audit(c, {
      operatorId: req.operatorId,
      actor: req.actor,
      action: "payment.reverse",
      entityType: "subscriber",
      entityId: String(p.subscriberId),
      details: { receiptNo: req.receiptNo, amountPaisa: p.amountPaisa, reason: req.reason, balancePaisa: r.balancePaisa },
    });
    return { duplicate: false, ...r };
  });
}
