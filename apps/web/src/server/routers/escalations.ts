import "server-only";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { acknowledgeEscalation, countOpenEscalations, EscalationError, escalationsListMax, listEscalations, retryEscalation } from "../services/escalations";
import { escalationProcedure, router } from "../trpc";

const actionIdInput = z.object({ actionId: z.string().regex(/^\d{1,19}$/) });

const escalationSchema = z.object({
  id: z.string(),
  subscriberId: z.number().int(),
  accountNo: z.string(),
  subscriberName: z.string(),
  pppoeUsername: z.string(),
  kind: z.string(),
  status: z.string(),
  path: z.string().nullable(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  lastError: z.string().nullable(),
  errorCause: z.number().int().nullable(),
  errorCode: z.string().nullable(),
  reason: z.string().nullable(),
  routerName: z.string().nullable(),
  requestedAt: z.string(),
  completedAt: z.string().nullable(),
  ackedAt: z.string().nullable(),
  ackedBy: z.string().nullable(),
});
export type Escalation = z.infer<typeof escalationSchema>;

function asTrpc(err: unknown): never {
  if (err instanceof EscalationError) throw new TRPCError({ code: err.code, message: err.message });
  throw err;
}

// NOC, admin and support (roles.ts escalationRoles); dealers never reach these, and the
// scope filter keeps it that way should the roles change.
export const escalationsRouter = router({
  list: escalationProcedure
    .input(z.object({ includeAcked: z.boolean().default(false), limit: z.number().int().min(1).max(escalationsListMax).default(100) }).default({ includeAcked: false, limit: 100 }))
    .output(z.array(escalationSchema))
    .query(({ ctx, input }) => listEscalations(ctx.prisma, ctx.scope, input)),

  count: escalationProcedure.output(z.object({ open: z.number().int() })).query(async ({ ctx }) => ({ open: await countOpenEscalations(ctx.prisma, ctx.scope) })),

  retry: escalationProcedure
    .input(actionIdInput)
    .output(z.object({ actionId: z.string() }))
    .mutation(({ ctx, input }) => retryEscalation(ctx.prisma, ctx.scope, ctx.operator, BigInt(input.actionId)).catch(asTrpc)),

  acknowledge: escalationProcedure
    .input(actionIdInput.extend({ note: z.string().trim().max(200).optional() }))
    .output(z.object({ actionId: z.string(), ackedAt: z.string() }))
    .mutation(({ ctx, input }) => acknowledgeEscalation(ctx.prisma, ctx.scope, ctx.operator, BigInt(input.actionId), input.note || undefined).catch(asTrpc)),
});
