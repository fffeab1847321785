import "server-only";
import { PaymentError } from "@isp/db/payments";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { parseRupees } from "../../lib/money";
import { canRecordBank, canRecordCash, canReversePayment, type OperatorRole } from "../../lib/roles";
import { pgPool } from "../pg";
import { recordWebPayment, reverseWebPayment } from "../services/payments";
import { protectedProcedure, router } from "../trpc";

// Money actions from the Billing panel. Amounts arrive as the rupee text the operator
// typed and are parsed here, strictly, into integer paisa. Each form submission carries a
// request key: a double click or a retry records once and answers with the same receipt.
// Every action writes its audit row in the same transaction as the money (@isp/db/payments).

const rolesGate = (allowed: (role: OperatorRole) => boolean, what: string) =>
  protectedProcedure.use(({ ctx, next }) => {
    if (!allowed(ctx.operator.role)) throw new TRPCError({ code: "FORBIDDEN", message: `Role ${ctx.operator.role} may not ${what}` });
    return next({ ctx: { pool: (ctx.pool ?? pgPool)() } });
  });

const amount = z
  .string()
  .max(40)
  .transform((text, c) => {
    const r = parseRupees(text);
    if (!r.ok) {
      c.addIssue({ code: "custom", message: r.error });
      return z.NEVER;
    }
    return r.paisa;
  });

const requestKey = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "request key: 8-64 letters, digits, _ or -");
const subscriberId = z.number().int().positive();
const resultSchema = z.object({ receiptNo: z.string(), duplicate: z.boolean(), amountPaisa: z.number(), balancePaisa: z.number(), restored: z.boolean() });

function mapError(err: unknown): never {
  if (err instanceof PaymentError) {
    const code = err.code === "not_found" ? "NOT_FOUND" : err.code === "conflict" ? "CONFLICT" : "BAD_REQUEST";
    throw new TRPCError({ code, message: err.code === "not_found" ? "Subscriber or payment not found" : err.message });
  }
  throw err;
}

export const paymentsRouter = router({
  recordCash: rolesGate(canRecordCash, "record cash payments")
    .input(z.object({ subscriberId, amount, requestKey, reference: z.string().trim().min(1).max(64).optional() }))
    .output(resultSchema)
    .mutation(({ ctx, input }) =>
      recordWebPayment(ctx.pool, ctx.operator, { subscriberId: input.subscriberId, amountPaisa: input.amount, method: "cash", requestKey: input.requestKey, reference: input.reference ?? null }).catch(mapError),
    ),

  recordBank: rolesGate(canRecordBank, "record bank transfers")
    .input(z.object({ subscriberId, amount, requestKey, reference: z.string().trim().min(1, "Enter the bank reference").max(64) }))
    .output(resultSchema)
    .mutation(({ ctx, input }) =>
      recordWebPayment(ctx.pool, ctx.operator, { subscriberId: input.subscriberId, amountPaisa: input.amount, method: "bank_transfer", requestKey: input.requestKey, reference: input.reference }).catch(mapError),
    ),

  reverse: rolesGate(canReversePayment, "reverse payments")
    .input(z.object({ receiptNo: z.string().trim().min(1).max(64), reason: z.string().trim().min(3, "Give a reason").max(500) }))
    .output(resultSchema)
    .mutation(({ ctx, input }) => reverseWebPayment(ctx.pool, ctx.operator, input).catch(mapError)),
});
