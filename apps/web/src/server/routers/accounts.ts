import "server-only";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { accountRoles, managerRoles } from "../../lib/roles";
import { dealerStatement, statementDaysMax, subscriberAccount } from "../services/accounts";
import { protectedProcedure, router } from "../trpc";

// Read-only views of the billing ledger. Dealer scoping is the subscriber procedures'
// (ctx.scope): another dealer's subscriber is NOT_FOUND, exactly like a missing one.
const accountProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (!accountRoles.includes(ctx.operator.role)) {
    throw new TRPCError({ code: "FORBIDDEN", message: `Role ${ctx.operator.role} may not read accounts` });
  }
  return next();
});

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "Use YYYY-MM-DD")
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
  }, "Not a calendar date");

const dayMs = 86_400_000;

export const accountsRouter = router({
  subscriber: accountProcedure.input(z.object({ subscriberId: z.number().int().positive() })).query(async ({ ctx, input }) => {
    const account = await subscriberAccount(ctx.prisma, ctx.scope, input.subscriberId);
    if (!account) throw new TRPCError({ code: "NOT_FOUND", message: "Subscriber not found" });
    return account;
  }),

  dealerStatement: accountProcedure
    .input(z.object({ from: isoDay, to: isoDay, dealerId: z.number().int().positive().optional() }))
    .query(async ({ ctx, input }) => {
      const { role } = ctx.operator;
      let dealerId: number;
      if (role === "dealer") {
        if (ctx.operator.dealerId === null) throw new TRPCError({ code: "NOT_FOUND", message: "No dealer account for this operator" });
        if (input.dealerId !== undefined && input.dealerId !== ctx.operator.dealerId) {
          throw new TRPCError({ code: "FORBIDDEN", message: "Dealers may only read their own statement" });
        }
        dealerId = ctx.operator.dealerId;
      } else if (managerRoles.includes(role)) {
        if (input.dealerId === undefined) throw new TRPCError({ code: "BAD_REQUEST", message: "Pick a dealer" });
        dealerId = input.dealerId;
      } else {
        throw new TRPCError({ code: "FORBIDDEN", message: `Role ${role} may not read dealer statements` });
      }
      const days = (Date.parse(input.to) - Date.parse(input.from)) / dayMs;
      if (days < 0) throw new TRPCError({ code: "BAD_REQUEST", message: "The range ends before it starts" });
      if (days >= statementDaysMax) throw new TRPCError({ code: "BAD_REQUEST", message: `At most ${statementDaysMax} days per statement` });
      const statement = await dealerStatement(ctx.prisma, dealerId, input.from, input.to);
      if (!statement) throw new TRPCError({ code: "NOT_FOUND", message: "Dealer not found" });
      return statement;
    }),

  /** Dealers an admin/manager may pick a statement for. */
  dealers: accountProcedure.query(async ({ ctx }) => {
    if (!managerRoles.includes(ctx.operator.role)) return [];
    return ctx.prisma.dealer.findMany({ orderBy: { name: "asc" }, select: { id: true, code: true, name: true }, take: 500 });
  }),
});
