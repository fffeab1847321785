import "server-only";
import { paymentRules } from "@isp/billing/account";
import { defaultDunningConfig } from "@isp/billing/dunning";
import { type PaymentOutcome, type PaymentRules, recordPayment, reversePayment } from "@isp/db/payments";
import type pg from "pg";
import type { SessionOperator } from "../../types/next-auth";

// The web app records payments through the same database orchestration as the collector
// (@isp/db/payments) with the same pure rules (@isp/billing/account): the allocation,
// the dunning ladder (the default one: per-plan ladders are not stored yet, the collector
// uses the same) and the restore when the balance clears.
const rules: PaymentRules = paymentRules({ dunningFor: () => defaultDunningConfig });

export interface PaymentResult {
  receiptNo: string;
  duplicate: boolean;
  amountPaisa: number;
  balancePaisa: number;
  restored: boolean;
}

const result = (o: PaymentOutcome): PaymentResult => ({
  receiptNo: o.receiptNo,
  duplicate: o.duplicate,
  amountPaisa: o.amountPaisa,
  balancePaisa: o.balancePaisa,
  restored: o.restored,
});

export async function recordWebPayment(
  pool: pg.Pool,
  operator: SessionOperator,
  input: { subscriberId: number; amountPaisa: number; method: "cash" | "bank_transfer"; requestKey: string; reference: string | null },
  now = new Date(),
): Promise<PaymentResult> {
  const out = await recordPayment(
    pool,
    {
      subscriberId: input.subscriberId,
      amountPaisa: input.amountPaisa,
      method: input.method,
      requestKey: input.requestKey,
      reference: input.reference,
      receivedAt: now,
      operatorId: operator.id,
      actor: operator.username,
      // A dealer's recovery officer: own subscribers only (a dealer with no dealer row matches nothing).
      ...(operator.role === "dealer" ? { dealerId: operator.dealerId ?? -1 } : {}),
    },
    rules,
    { now },
  );
  return result(out);
}

export async function reverseWebPayment(pool: pg.Pool, operator: SessionOperator, input: { receiptNo: string; reason: string }, now = new Date()): Promise<PaymentResult> {
  return result(await reversePayment(pool, { receiptNo: input.receiptNo, reason: input.reason, operatorId: operator.id, actor: operator.username }, rules, { now }));
}
