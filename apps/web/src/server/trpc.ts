import "server-only";
import { initTRPC, TRPCError } from "@trpc/server";
import type { OperatorRole } from "../lib/roles";
import { managerRoles, nocRoles, supportRoles } from "../lib/roles";
import type { SessionOperator } from "../types/next-auth";
import { currentOperator } from "./auth";
import { db } from "./db";
import { subscriberScope } from "./scope";

export async function createContext() {
  return { operator: await currentOperator(), db };
}
export type Context = Awaited<ReturnType<typeof createContext>>;

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    // Internal errors keep their message in the server log, not in the browser.
    if (error.code === "INTERNAL_SERVER_ERROR") return { ...shape, message: "Internal error" };
    return shape;
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

export const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.operator) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  const operator: SessionOperator = ctx.operator;
  return next({ ctx: { ...ctx, operator, prisma: ctx.db(), scope: subscriberScope(operator) } });
});

function roleProcedure(roles: readonly OperatorRole[]) {
  return protectedProcedure.use(({ ctx, next }) => {
    if (!roles.includes(ctx.operator.role)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `Role ${ctx.operator.role} may not do this` });
    }
    return next();
  });
}

export const nocProcedure = roleProcedure(nocRoles);
export const supportProcedure = roleProcedure(supportRoles);
export const managerProcedure = roleProcedure(managerRoles);
