// Recording and reversing payments: the database side, shared by the collector and the
// web app. One transaction each: the subscriber's row lock (so payments for one
// subscriber allocate one after the other, and serialise with the dunning run), the
// payment row, its ledger transaction, the re-derived allocation (invoice statuses), a
// dunning evaluation — a payment that clears the balance emits the restore at once,
// through the same outbox path as the dunning run — and the audit row.
//
// The amounts, ledger transactions and dunning decisions come from the pure core through
// `rules` (`paymentRules()` of @isp/billing/account): packages do not import each other,
// the apps wire the two together.
import type pg from "pg";
import {
  type AccountHistory,
  type DunningWrite,
  type LedgerTxInput,
  audit,
  insertLedgerTransactions,
  ledgerTransaction,
  loadAccountHistories,
  setInvoiceStatuses,
  withTransaction,
  writeDunning,
} from "./billing-store";

export interface SignedTx {
  key: string;
  kind: string;
  entries: { account: string; amountPaisa: number }[];
}

export interface AccountDecision {
  balancePaisa: number;
  invoiceStatuses: { key: string; status: "open" | "paid" }[];
  dunning: DunningWrite | null;
}

export interface PaymentRules {
  paymentLedger(p: { receiptNo: string; subscriberId: number; amountPaisa: number; method: "cash" | "bank" }): SignedTx;
  reversalLedger(original: SignedTx): SignedTx;
  evaluate(h: AccountHistory, now: Date): AccountDecision;
}

export type PaymentMethodIn = "cash" | "bank_transfer";

export interface PaymentRequest {
  subscriberId: number;
  amountPaisa: number;
  method: PaymentMethodIn;
  receivedAt: Date;
  operatorId: number | null;
  /** Operator username or service name, for the audit row. */
  actor: string;
  /** Given (imports, the collector's callers): used as is. Absent: the next number of `RCT-<year>`. */
  receiptNo?: string;
  /** One per form submission: a repeat with the same key returns the first result. */
  requestKey?: string;
  /** Bank reference of a transfer (or the customer's own slip number). */
  reference?: string | null;
  /** Dealer scope: set for a dealer's operator; another dealer's subscriber is `not_found`. */
  dealerId?: number;
}

export interface PaymentOutcome {
  duplicate: boolean;
  receiptNo: string;
  subscriberId: number;
  amountPaisa: number;
  balancePaisa: number;
  /** Dunning actions emitted by this payment (e.g. the restore). */
  actions: number;
  /** The payment cleared a restricted account: a restore went to the enforcement outbox. */
  restored: boolean;
}

export type PaymentErrorCode = "invalid" | "not_found" | "conflict";

export class PaymentError extends Error {
  override name = "PaymentError";
  constructor(
    readonly code: PaymentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const receiptSeriesPrefix = "RCT";
const receiptPattern = /^[A-Za-z0-9][A-Za-z0-9/_.-]{0,63}$/;
const requestKeyPattern = /^[A-Za-z0-9_-]{8,64}$/;
export const reasonMaxLength = 500;
export const referenceMaxLength = 64;

function validate(req: PaymentRequest): void {
  if (!Number.isSafeInteger(req.amountPaisa) || req.amountPaisa <= 0) throw new PaymentError("invalid", "amount must be a positive whole number of paisa");
  if (req.receiptNo !== undefined && !receiptPattern.test(req.receiptNo)) throw new PaymentError("invalid", "receipt number must be 1-64 letters, digits or / _ . -");
  if (req.requestKey !== undefined && !requestKeyPattern.test(req.requestKey)) throw new PaymentError("invalid", "request key must be 8-64 letters, digits, _ or -");
  if (req.reference != null && (req.reference.length === 0 || req.reference.length > referenceMaxLength)) {
    throw new PaymentError("invalid", `reference must be 1-${referenceMaxLength} characters`);
  }
  if (req.method !== "cash" && req.method !== "bank_transfer") throw new PaymentError("invalid", `unknown payment method ${String(req.method)}`);
  if (Number.isNaN(req.receivedAt.getTime())) throw new PaymentError("invalid", "receivedAt is not a time");
}

/** Karachi business date (YYYY-MM-DD) of an instant; Pakistan has no daylight saving. */
function karachiDay(at: Date): string {
  return new Date(at.getTime() + 5 * 3_600_000).toISOString().slice(0, 10);
}

// FOR NO KEY UPDATE: conflicts with the dunning run's FOR UPDATE and with another payment,
// but not with the KEY SHARE locks a billing run's invoice inserts take on subscribers.
async function lockSubscriber(c: pg.PoolClient, subscriberId: number, dealerId: number | undefined): Promise<void> {
  const r = await c.query<{ dealerId: number | null }>(`SELECT dealer_id AS "dealerId" FROM subscribers WHERE id = $1 FOR NO KEY UPDATE`, [subscriberId]);
  const row = r.rows[0];
  // Another dealer's subscriber reads exactly like a missing one.
  if (!row || (dealerId !== undefined && row.dealerId !== dealerId)) throw new PaymentError("not_found", `subscriber ${subscriberId} not found`);
}

/** Next gapless receipt number of the series; the counter row stays locked until commit. */
async function nextReceiptNo(c: pg.PoolClient, receivedAt: Date): Promise<string> {
  const series = `${receiptSeriesPrefix}-${karachiDay(receivedAt).slice(0, 4)}`;
  await c.query(`INSERT INTO invoice_counters (series) VALUES ($1) ON CONFLICT DO NOTHING`, [series]);
  const r = await c.query<{ seq: number }>(`UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE series = $1 RETURNING last_seq AS seq`, [series]);
  return `${series}-${String(r.rows[0]!.seq).padStart(7, "0")}`;
}

async function reevaluate(c: pg.PoolClient, subscriberId: number, rules: PaymentRules, now: Date): Promise<{ balancePaisa: number; actions: number; restored: boolean }> {
  const [h] = await loadAccountHistories(c, [subscriberId]);
  if (!h) throw new PaymentError("not_found", `subscriber ${subscriberId} not found`);
  const e = rules.evaluate(h, now);
  await setInvoiceStatuses(c, e.invoiceStatuses);
  const w = await writeDunning(c, e.dunning ? [e.dunning] : []);
  const restored = w.enforcement > 0 && (e.dunning?.actions.some((a) => a.outboxKind === "restore") ?? false);
  return { balancePaisa: e.balancePaisa, actions: w.actions, restored };
}

async function balanceOf(c: pg.PoolClient, subscriberId: number, rules: PaymentRules, now: Date): Promise<number> {
  const [h] = await loadAccountHistories(c, [subscriberId]);
  return h ? rules.evaluate(h, now).balancePaisa : 0;
}

function stored(tx: SignedTx, subscriberId: number, occurredOn: string): LedgerTxInput {
  return { key: tx.key, kind: tx.kind, subscriberId, occurredOn, entries: tx.entries };
}

export async function recordPayment(pool: pg.Pool, req: PaymentRequest, rules: PaymentRules, opts: { now?: Date } = {}): Promise<PaymentOutcome> {
  validate(req);
  const now = opts.now ?? new Date();
  return withTransaction(pool, async (c) => {
    await lockSubscriber(c, req.subscriberId, req.dealerId);
    // The subscriber lock serialises a double submit: the second sees the first's row.
    const previous = req.requestKey
      ? await c.query<{ subscriberId: number; receiptNo: string; amountPaisa: number; method: string }>(
          `SELECT subscriber_id AS "subscriberId", receipt_no AS "receiptNo", amount_paisa::float8 AS "amountPaisa", method::text AS method
           FROM payments WHERE request_key = $1`,
          [req.requestKey],
        )
      : null;
    const prior = previous?.rows[0] ?? (req.receiptNo ? await paymentByReceipt(c, req.receiptNo) : undefined);
    if (prior) {
      if (prior.subscriberId !== req.subscriberId || prior.amountPaisa !== req.amountPaisa || prior.method !== req.method) {
        throw new PaymentError("conflict", `${req.requestKey && previous?.rows[0] ? "request key" : "receipt number"} already used for a different payment (${prior.receiptNo})`);
      }
      return { duplicate: true, receiptNo: prior.receiptNo, subscriberId: req.subscriberId, amountPaisa: req.amountPaisa, balancePaisa: await balanceOf(c, req.subscriberId, rules, now), actions: 0, restored: false };
    }
    const receiptNo = req.receiptNo ?? (await nextReceiptNo(c, req.receivedAt));
    await c.query(
      `INSERT INTO payments (subscriber_id, amount_paisa, method, reference, received_at, operator_id, receipt_no, request_key)
       VALUES ($1, $2, $3::payment_method, $4, $5, $6, $7, $8)`,
      [req.subscriberId, req.amountPaisa, req.method, req.reference ?? receiptNo, req.receivedAt, req.operatorId, receiptNo, req.requestKey ?? null],
    );
    const tx = rules.paymentLedger({ receiptNo, subscriberId: req.subscriberId, amountPaisa: req.amountPaisa, method: req.method === "cash" ? "cash" : "bank" });
    await insertLedgerTransactions(c, [stored(tx, req.subscriberId, karachiDay(req.receivedAt))]);
    const r = await reevaluate(c, req.subscriberId, rules, now);
    await audit(c, {
      operatorId: req.operatorId,
      actor: req.actor,
      action: "payment.record",
      entityType: "subscriber",
      entityId: String(req.subscriberId),
      details: {
        receiptNo,
        amountPaisa: req.amountPaisa,
        method: req.method,
        reference: req.reference ?? null,
        requestKey: req.requestKey ?? null,
        balancePaisa: r.balancePaisa,
        dunningActions: r.actions,
        restored: r.restored,
      },
    });
    return { duplicate: false, receiptNo, subscriberId: req.subscriberId, amountPaisa: req.amountPaisa, ...r };
  });
}

async function paymentByReceipt(c: pg.ClientBase, receiptNo: string) {
  const r = await c.query<{ subscriberId: number; receiptNo: string; amountPaisa: number; method: string; reversed: boolean }>(
    `SELECT subscriber_id AS "subscriberId", receipt_no AS "receiptNo", amount_paisa::float8 AS "amountPaisa", method::text AS method, reversed_at IS NOT NULL AS reversed
     FROM payments WHERE receipt_no = $1`,
    [receiptNo],
  );
  return r.rows[0];
}

export interface ReversalRequest {
  receiptNo: string;
  reason: string;
  operatorId: number | null;
  actor: string;
}

/**
 * Reverses a payment through the ledger (`reversal:payment:<receipt>`; the payment row is
 * only marked, never deleted) and re-derives the allocation. Reversing twice is a no-op
 * answered `duplicate: true`. The next dunning run starts a new episode if the balance reopened.
 */
export async function reversePayment(pool: pg.Pool, req: ReversalRequest, rules: PaymentRules, opts: { now?: Date } = {}): Promise<PaymentOutcome> {
  const reason = req.reason.trim();
  if (reason.length === 0 || reason.length > reasonMaxLength) throw new PaymentError("invalid", `a reason of 1-${reasonMaxLength} characters is required`);
  const now = opts.now ?? new Date();
  return withTransaction(pool, async (c) => {
    const found = await paymentByReceipt(c, req.receiptNo);
    if (!found) throw new PaymentError("not_found", `no payment with receipt ${req.receiptNo}`);
    await c.query(`SELECT id FROM subscribers WHERE id = $1 FOR NO KEY UPDATE`, [found.subscriberId]);
    const marked = await c.query(`UPDATE payments SET reversed_at = now(), reversal_reason = $2 WHERE receipt_no = $1 AND reversed_at IS NULL`, [req.receiptNo, reason]);
    const base = { receiptNo: req.receiptNo, subscriberId: found.subscriberId, amountPaisa: found.amountPaisa };
    if ((marked.rowCount ?? 0) === 0) {
      return { duplicate: true, ...base, balancePaisa: await balanceOf(c, found.subscriberId, rules, now), actions: 0, restored: false };
    }
    const original = await ledgerTransaction(c, `payment:${req.receiptNo}`);
    if (!original) throw new PaymentError("conflict", `payment ${req.receiptNo} has no ledger transaction`);
    await insertLedgerTransactions(c, [stored(rules.reversalLedger(original), found.subscriberId, karachiDay(now))]);
    const r = await reevaluate(c, found.subscriberId, rules, now);
    await audit(c, {
      operatorId: req.operatorId,
      actor: req.actor,
      action: "payment.reverse",
      entityType: "subscriber",
      entityId: String(found.subscriberId),
      details: { receiptNo: req.receiptNo, amountPaisa: found.amountPaisa, method: found.method, reason, balancePaisa: r.balancePaisa },
    });
    return { duplicate: false, ...base, ...r };
  });
}
