// Outbox for actions the collector carries out against routers. The row, its audit
// entry and the NOTIFY share one transaction: the collector hears about the action only
// once it is committed, and a failure leaves no trace at all.
import type { PrismaClient } from "./generated/prisma/client";

export const enforcementChannel = "enforcement";

export interface EnforcementRequest {
  kind: "disconnect";
  subscriberId: number;
  /** Operator who asked; null for system actors (billing, scheduler). */
  operatorId: number | null;
  /** Who, in words: an operator username or "billing". */
  actor: string;
  reason?: string | null;
}

export class UnknownSubscriberError extends Error {
  override name = "UnknownSubscriberError";
  constructor(readonly subscriberId: number) {
    super(`subscriber ${subscriberId} does not exist`);
  }
}

export async function requestEnforcement(
  prisma: PrismaClient,
  req: EnforcementRequest,
): Promise<{ actionId: string }> {
  return prisma.$transaction(async (tx) => {
    const subscriber = await tx.subscriber.findUnique({ where: { id: req.subscriberId }, select: { id: true } });
    if (!subscriber) throw new UnknownSubscriberError(req.subscriberId);
    // No active session still gets a row: the worker answers "no session" and the
    // operator sees that answer like any other.
    const session = await tx.radiusSession.findFirst({
      where: { subscriberId: req.subscriberId, status: "active" },
      orderBy: { startedAt: "desc" },
      select: { id: true, routerId: true, acctSessionId: true },
    });
    const action = await tx.enforcementAction.create({
      data: {
        kind: req.kind,
        subscriberId: req.subscriberId,
        routerId: session?.routerId ?? null,
        acctSessionId: session?.acctSessionId ?? null,
        requestedById: req.operatorId,
        reason: req.reason ?? null,
      },
      select: { id: true },
    });
    const actionId = action.id.toString();
    await tx.auditLog.create({
      data: {
        operatorId: req.operatorId,
        actor: req.actor,
        action: `subscriber.${req.kind}`,
        entityType: "subscriber",
        entityId: String(req.subscriberId),
        details: {
          actionId,
          reason: req.reason ?? null,
          session: session
            ? { id: session.id.toString(), routerId: session.routerId, acctSessionId: session.acctSessionId }
            : null,
        },
      },
    });
    await tx.$executeRaw`SELECT pg_notify(${enforcementChannel}, ${actionId})`;
    return { actionId };
  });
}
