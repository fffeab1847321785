import "server-only";
import { requestEnforcement } from "@isp/db/outbox";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { subscriberDetailSchema, subscriberRowSchema } from "../dto";
import { getSubscriber, searchLimitMax, searchSubscribers, subscriberVisible } from "../services/subscribers";
import { protectedProcedure, router, supportProcedure } from "../trpc";

const idInput = z.object({ id: z.number().int().positive() });

export const subscriberRouter = router({
  search: protectedProcedure
    .input(z.object({ q: z.string().max(100), limit: z.number().int().min(1).max(searchLimitMax).default(searchLimitMax) }))
    .output(z.array(subscriberRowSchema))
    .query(({ ctx, input }) => searchSubscribers(ctx.prisma, ctx.scope, input.q, input.limit)),

  get: protectedProcedure
    .input(idInput)
    .output(subscriberDetailSchema)
    .query(async ({ ctx, input }) => {
      // Another dealer's subscriber is indistinguishable from a missing one.
      const detail = await getSubscriber(ctx.prisma, ctx.scope, input.id);
      if (!detail) throw new TRPCError({ code: "NOT_FOUND", message: "Subscriber not found" });
      return detail;
    }),

  disconnect: supportProcedure
    .input(idInput.extend({ reason: z.string().trim().max(200).optional() }))
    .output(z.object({ actionId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (!(await subscriberVisible(ctx.prisma, ctx.scope, input.id))) {
        throw new TRPCError({ code: "NOT_FOUND", message: "Subscriber not found" });
      }
      const { actionId } = await requestEnforcement(ctx.prisma, {
        kind: "disconnect",
        subscriberId: input.id,
        operatorId: ctx.operator.id,
        actor: ctx.operator.username,
        reason: input.reason || "Disconnected by support",
      });
      return { actionId: String(actionId) };
    }),
});
