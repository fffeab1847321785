import "server-only";
import {
  authLogPage,
  authLogSummary,
  authLogSummaryWindowMs,
  recentAuthAttempts,
  recentAuthAttemptsLimitMax,
  type AuthAttempt,
  type AuthLogCursor,
  type AuthLogFilter,
} from "@isp/db/auth-log";
import type { Queryable } from "@isp/db/timeseries";
import type { createPrisma } from "@isp/db/client";
import type { AuthAttemptDto, AuthLogListDto, AuthLogSummaryDto, SubscriberAuthLogDto } from "../routers/auth-log";

type Prisma = ReturnType<typeof createPrisma>;
type Scope = { dealerId?: number };

/** How far back the subscriber panel looks (docs/radius-auth.md, "Auth log"). */
export const subscriberAuthLogDays = 30;

function toDto(a: AuthAttempt): AuthAttemptDto {
  return {
    id: a.id,
    time: a.time.toISOString(),
    routerId: a.routerId,
    routerName: a.routerName,
    nasIp: a.nasIp,
    username: a.username,
    callingStationId: a.callingStationId,
    method: a.method,
    result: a.result,
    reason: a.reason,
    reply: a.reply,
  };
}

/**
 * The subscriber page's login attempts, newest first, within 30 days: by subscriber id and
 * by the current PPPoE user name (so attempts from before the account existed show). Null
 * when the subscriber is not in the caller's scope: another dealer's subscriber is the
 * same as a missing one.
 */
export async function subscriberAuthLog(prisma: Prisma, pg: Queryable, scope: Scope, subscriberId: number, limit: number, now = new Date()): Promise<SubscriberAuthLogDto | null> {
  const s = await prisma.subscriber.findFirst({ where: { id: subscriberId, ...scope }, select: { pppoeUsername: true, boundMac: true } });
  if (!s) return null;
  const capped = Math.max(1, Math.min(limit, recentAuthAttemptsLimitMax));
  const rows = await recentAuthAttempts(pg, { subscriberId, limit: capped, since: new Date(now.getTime() - subscriberAuthLogDays * 86_400_000) });
  return {
    username: s.pppoeUsername,
    boundMac: s.boundMac,
    attempts: rows.map(toDto),
    limit: capped,
    hasMore: rows.length === capped && capped < recentAuthAttemptsLimitMax,
  };
}

export async function listAuthLog(pg: Queryable, filter: AuthLogFilter, cursor: AuthLogCursor | null, limit: number): Promise<AuthLogListDto> {
  const page = await authLogPage(pg, filter, { cursor, limit });
  return { rows: page.rows.map(toDto), nextCursor: page.nextCursor };
}

export async function summarizeAuthLog(pg: Queryable, now = new Date()): Promise<AuthLogSummaryDto> {
  const s = await authLogSummary(pg, new Date(now.getTime() - authLogSummaryWindowMs));
  return { ...s, since: s.since.toISOString() };
}
