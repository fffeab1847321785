import "server-only";
import { initTRPC, TRPCError } from "@trpc/server";
import type { Queryable } from "@isp/db/timeseries";
import type pg from "pg";
import type { OperatorRole } from "../lib/roles";
import { complianceRoles, escalationRoles, managerRoles, nocRoles, routerAdminRoles, routerViewRoles, supportRoles } from "../lib/roles";
import type { SessionOperator } from "../types/next-auth";
import { currentOperator } from "./auth";
import { db } from "./db";
import { pgPool } from "./pg";
import { subscriberScope } from "./scope";

export interface Context {
  operator: SessionOperator | null;
  db: typeof db;
  /** Raw SQL for the time-series tables; the server's bounded pool unless a test passes its own. */
  pg?: () => Queryable;
  /** Transactions over raw SQL (payments); the server's pool unless a test passes its own. */
  pool?: () => pg.Pool;
}

export async function createContext(): Promise<Context> {
  return { operator: await currentOperator(), db };
}

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
export const escalationProcedure = roleProcedure(escalationRoles);
export const routerViewProcedure = roleProcedure(routerViewRoles);
export const routerAdminProcedure = roleProcedure(routerAdminRoles);
export const complianceProcedure = roleProcedure(complianceRoles).use(({ ctx, next }) =>
  next({ ctx: { pg: (ctx.pg ?? pgPool)() } }),
);
