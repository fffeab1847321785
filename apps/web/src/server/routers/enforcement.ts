import "server-only";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { enforcementActionSchema } from "../dto";
import { getAction } from "../services/enforcement";
import { protectedProcedure, router } from "../trpc";

export const enforcementRouter = router({
  status: protectedProcedure
    .input(z.object({ actionId: z.string().regex(/^\d{1,19}$/) }))
    .output(enforcementActionSchema)
    .query(async ({ ctx, input }) => {
      const action = await getAction(ctx.prisma, ctx.scope, BigInt(input.actionId));
      if (!action) throw new TRPCError({ code: "NOT_FOUND", message: "Action not found" });
      return action;
    }),
});
