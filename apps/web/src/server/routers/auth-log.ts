import "server-only";
import { authLogPageSizeMax, authLogWindowMaxMs, recentAuthAttemptsLimitMax } from "@isp/db/auth-log";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { authLogNocRoles, authLogSubscriberRoles, type OperatorRole } from "../../lib/roles";
import { pgPool } from "../pg";
import { listAuthLog, subscriberAuthLog, summarizeAuthLog } from "../services/auth-log";
import { protectedProcedure, router } from "../trpc";

// The auth log (docs/radius-auth.md, "Auth log"). Reads only, not audited: like the rest of
// the subscriber page (the audited reads are the compliance officers' lookups).
function authLogProcedure(roles: readonly OperatorRole[]) {
  return protectedProcedure.use(({ ctx, next }) => {
    if (!roles.includes(ctx.operator.role)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `Role ${ctx.operator.role} may not read the auth log` });
    }
    return next({ ctx: { pg: (ctx.pg ?? pgPool)() } });
  });
}

const resultSchema = z.enum(["accept", "reject", "drop"]);

const attemptSchema = z.object({
  id: z.string(),
  time: z.string(),
  routerId: z.number().int().nullable(),
  routerName: z.string().nullable(),
  nasIp: z.string(),
  username: z.string(),
  callingStationId: z.string().nullable(),
  method: z.string(),
  result: resultSchema,
  reason: z.string(),
  reply: z.string().nullable(),
});
export type AuthAttemptDto = z.infer<typeof attemptSchema>;

const subscriberAuthLogSchema = z.object({
  username: z.string(),
  boundMac: z.string().nullable(),
  attempts: z.array(attemptSchema),
  limit: z.number().int(),
  hasMore: z.boolean(),
});
export type SubscriberAuthLogDto = z.infer<typeof subscriberAuthLogSchema>;

const cursorSchema = z.object({
  time: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
  id: z.string().regex(/^\(\d{1,10},\d{1,5}\)$/),
});

const listSchema = z.object({ rows: z.array(attemptSchema), nextCursor: cursorSchema.nullable() });
export type AuthLogListDto = z.infer<typeof listSchema>;

const counts = z.record(z.string(), z.number().int());
const summarySchema = z.object({
  since: z.string(),
  accepts: z.number().int(),
  rejects: z.number().int(),
  drops: z.number().int(),
  rejectsByReason: counts,
  dropsByReason: counts,
  routers: z.array(
    z.object({
      routerId: z.number().int().nullable(),
      routerName: z.string().nullable(),
      nasIp: z.string(),
      accepts: z.number().int(),
      rejects: z.number().int(),
      drops: z.number().int(),
      rejectsByReason: counts,
      dropsByReason: counts,
      wrongSecret: z.boolean(),
    }),
  ),
  truncated: z.boolean(),
});
export type AuthLogSummaryDto = z.infer<typeof summarySchema>;

/** Default window of the NOC page when no `since` is given. */
const listDefaultWindowMs = 3600_000;

export const authLogRouter = router({
  /** One subscriber's attempts (newest first, 30 days); dealers only for their own subscribers. */
  subscriber: authLogProcedure(authLogSubscriberRoles)
    .input(z.object({ subscriberId: z.number().int().positive(), limit: z.number().int().min(1).max(recentAuthAttemptsLimitMax).default(50) }))
    .output(subscriberAuthLogSchema)
    .query(async ({ ctx, input }) => {
      const r = await subscriberAuthLog(ctx.prisma, ctx.pg, ctx.scope, input.subscriberId, input.limit);
      if (!r) throw new TRPCError({ code: "NOT_FOUND", message: "Subscriber not found" });
      return r;
    }),

  /** Every router's attempts, filtered, newest first, keyset-paged; the window is at most 7 days. */
  list: authLogProcedure(authLogNocRoles)
    .input(
      z.object({
        routerId: z.number().int().positive().optional(),
        result: resultSchema.optional(),
        reason: z
          .string()
          .regex(/^[a-z_]{1,64}$/)
          .optional(),
        usernamePrefix: z.string().trim().max(64).optional(),
        since: z.iso.datetime({ offset: true }).optional(),
        cursor: cursorSchema.nullish(),
        limit: z.number().int().min(1).max(authLogPageSizeMax).default(50),
      }),
    )
    .output(listSchema)
    .query(async ({ ctx, input }) => {
      const now = Date.now();
      const since = input.since ? new Date(input.since) : new Date(now - listDefaultWindowMs);
      if (since.getTime() < now - authLogWindowMaxMs) {
        throw new TRPCError({ code: "BAD_REQUEST", message: `At most ${authLogWindowMaxMs / 86_400_000} days back; narrow "since"` });
      }
      return listAuthLog(
        ctx.pg,
        {
          since,
          ...(input.routerId !== undefined ? { routerId: input.routerId } : {}),
          ...(input.result !== undefined ? { result: input.result } : {}),
          ...(input.reason !== undefined ? { reason: input.reason } : {}),
          ...(input.usernamePrefix ? { usernamePrefix: input.usernamePrefix } : {}),
        },
        input.cursor ?? null,
        input.limit,
      );
    }),

  /** The last 15 minutes by router, result and reason (the NOC page's strip). */
  summary: authLogProcedure(authLogNocRoles)
    .output(summarySchema)
    .query(({ ctx }) => summarizeAuthLog(ctx.pg)),

  /** Routers for the filter (names only; never secrets). */
  routers: authLogProcedure(authLogNocRoles)
    .output(z.array(z.object({ id: z.number().int(), name: z.string(), ipAddress: z.string() })))
    .query(({ ctx }) => ctx.prisma.router.findMany({ orderBy: { name: "asc" }, select: { id: true, name: true, ipAddress: true }, take: 1000 })),
});
