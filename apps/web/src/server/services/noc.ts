import "server-only";
import type { createPrisma } from "@isp/db/client";
import type { NocState } from "../../lib/live-protocol";

type Prisma = ReturnType<typeof createPrisma>;

/** Newest sessions on the wall; the collector's live pushes carry the same number (15). */
export const newestSessionsMax = 15;

/**
 * The wall's first paint, from the database, in the `noc:state` shape. Auth counters
 * live in the collector's memory, so they start at zero here and fill in from the socket.
 */
export async function nocSnapshot(prisma: Prisma, now: Date): Promise<NocState> {
  const [routers, perRouter, newest] = await Promise.all([
    prisma.router.findMany({ where: { active: true }, orderBy: { name: "asc" }, select: { id: true, name: true } }),
    prisma.radiusSession.groupBy({
      by: ["routerId"],
      where: { status: "active" },
      _count: { _all: true },
      _sum: { inputBps: true, outputBps: true },
      _max: { lastUpdateAt: true },
    }),
    prisma.radiusSession.findMany({
      where: { status: "active" },
      orderBy: [{ startedAt: "desc" }, { id: "desc" }],
      take: newestSessionsMax,
      include: { router: { select: { name: true } }, subscriber: { select: { accountNo: true, name: true } } },
    }),
  ]);
  const byRouter = new Map(perRouter.map((r) => [r.routerId, r]));
  let online = 0;
  for (const r of perRouter) online += r._count._all;
  return {
    at: now.toISOString(),
    online,
    routers: routers.map((r) => {
      const agg = byRouter.get(r.id);
      return {
        id: r.id,
        name: r.name,
        online: agg?._count._all ?? 0,
        inputBps: String(agg?._sum.inputBps ?? 0n),
        outputBps: String(agg?._sum.outputBps ?? 0n),
        lastSeenAt: agg?._max.lastUpdateAt?.toISOString() ?? null,
      };
    }),
    newest: newest.map((s) => ({
      sessionId: String(s.id),
      subscriberId: s.subscriberId,
      accountNo: s.subscriber?.accountNo ?? null,
      name: s.subscriber?.name ?? null,
      username: s.username,
      routerName: s.router.name,
      framedIp: s.framedIp,
      startedAt: s.startedAt.toISOString(),
    })),
    counters: { authAccepts: 0, authRejects: 0, dropped: 0 },
  };
}
