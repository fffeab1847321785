// Cash and bank payments from the collector's side. The database orchestration lives in
// @isp/db/payments (shared with the web app, which records payments from the Billing
// panel); this wires it to the pure core with the collector's billing configuration.
import { paymentRules } from "@isp/billing/account";
import { type PaymentOutcome, type PaymentRules, PaymentError, recordPayment as recordPaymentDb, reversePayment as reversePaymentDb } from "@isp/db/payments";
import type pg from "pg";
import { type BillingConfig, defaultBillingConfig, outboxKindOf } from "./config";

export { PaymentError, type PaymentOutcome };

export interface PaymentRequest {
  subscriberId: number;
  receiptNo: string;
  amountPaisa: number;
  method: "cash" | "bank_transfer";
  receivedAt: Date;
  operatorId: number | null;
  actor: string;
}

function rulesFor(config: Partial<BillingConfig> | undefined): PaymentRules {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...config };
  return paymentRules({ dunningFor: cfg.dunningFor, outboxKindOf });
}

export async function recordPayment(pool: pg.Pool, req: PaymentRequest, opts: { config?: Partial<BillingConfig>; now?: Date } = {}): Promise<PaymentOutcome> {
  return recordPaymentDb(pool, req, rulesFor(opts.config), { now: opts.now });
}

/** Reverses a payment through the ledger (never an edit) and re-derives the allocation. */
export async function reversePayment(
  pool: pg.Pool,
  req: { receiptNo: string; reason: string; operatorId: number | null; actor: string },
  opts: { config?: Partial<BillingConfig>; now?: Date } = {},
): Promise<PaymentOutcome> {
  return reversePaymentDb(pool, req, rulesFor(opts.config), { now: opts.now });
}
