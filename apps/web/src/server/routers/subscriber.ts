import "server-only";
import { InvalidActionError, requestEnforcement, UnknownSubscriberError } from "@isp/db/outbox";
import { formatKbps } from "../../lib/format";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { subscriberDetailSchema, subscriberRowSchema } from "../dto";
import { getSubscriber, searchLimitMax, searchSubscribers } from "../services/subscribers";
import { protectedProcedure, router, supportProcedure } from "../trpc";

const idInput = z.object({ id: z.number().int().positive() });

/** One-click actions on the subscriber page; each is one statement (scope check + state + outbox + audit + NOTIFY). */
export const subscriberActionKinds = ["kick", "suspend", "restore", "change_plan", "throttle", "walled_garden_on", "walled_garden_off", "terminate"] as const;
const actionInput = idInput.extend({
  kind: z.enum(subscriberActionKinds),
  planId: z.number().int().positive().optional(),
  reason: z.string().trim().max(200).optional(),
});

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
      try {
        const { actionId } = await requestEnforcement(ctx.prisma, {
          kind: "disconnect",
          subscriberId: input.id,
          ...ctx.scope,
          operatorId: ctx.operator.id,
          actor: ctx.operator.username,
          reason: input.reason || "Disconnected by support",
        });
        return { actionId: String(actionId) };
      } catch (err) {
        throw toTrpcError(err);
      }
    }),

  plans: protectedProcedure
    .output(z.array(z.object({ id: z.number().int(), name: z.string(), rate: z.string() })))
    .query(async ({ ctx }) => {
      const plans = await ctx.prisma.plan.findMany({ where: { active: true }, orderBy: { downloadKbps: "asc" } });
      return plans.map((p) => ({ id: p.id, name: p.name, rate: `${formatKbps(p.downloadKbps)} / ${formatKbps(p.uploadKbps)}` }));
    }),

  act: supportProcedure
    .input(actionInput)
    .output(z.object({ actionId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.kind === "change_plan" && input.planId === undefined) {
        throw new TRPCError({ code: "BAD_REQUEST", message: "Pick a plan" });
      }
      try {
        // The caller's scope is part of the statement: a subscriber outside it is not found.
        const { actionId } = await requestEnforcement(ctx.prisma, {
          kind: input.kind,
          subscriberId: input.id,
          ...(input.planId !== undefined ? { planId: input.planId } : {}),
          ...ctx.scope,
          operatorId: ctx.operator.id,
          actor: ctx.operator.username,
          reason: input.reason || `${input.kind} by ${ctx.operator.role}`,
        });
        return { actionId: String(actionId) };
      } catch (err) {
        throw toTrpcError(err);
      }
    }),
});

/** Another dealer's subscriber is indistinguishable from a missing one. */
function toTrpcError(err: unknown): unknown {
  if (err instanceof UnknownSubscriberError) return new TRPCError({ code: "NOT_FOUND", message: "Subscriber not found" });
  if (err instanceof InvalidActionError) return new TRPCError({ code: "BAD_REQUEST", message: err.message });
  return err;
}
