import "server-only";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { InvalidRunRequestError, recentRuns, requestRun } from "../services/billing-runs";
import { managerProcedure, router } from "../trpc";

const runSchema = z.object({
  id: z.string(),
  kind: z.string(),
  period: z.string(),
  status: z.string(),
  processed: z.number(),
  created: z.number(),
  requestedBy: z.string().nullable(),
  startedAt: z.string(),
  seconds: z.number().nullable(),
  error: z.string().nullable(),
});

/** Billing/dunning runs: admin and manager only; every request is audited. */
export const billingRouter = router({
  requestRun: managerProcedure
    .input(z.object({ kind: z.enum(["billing", "dunning"]), period: z.string().max(10).optional() }))
    .output(z.object({ runId: z.string(), period: z.string(), alreadyRequested: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      try {
        return await requestRun(ctx.prisma, { id: ctx.operator.id, username: ctx.operator.username, role: ctx.operator.role }, input);
      } catch (err) {
        if (err instanceof InvalidRunRequestError) throw new TRPCError({ code: "BAD_REQUEST", message: err.message });
        throw err;
      }
    }),
  runs: managerProcedure.output(z.array(runSchema)).query(({ ctx }) => recentRuns(ctx.prisma)),
});
