import "server-only";
import type { createPrisma } from "@isp/db/client";
import type { EnforcementActionDto } from "../dto";

type Prisma = ReturnType<typeof createPrisma>;

interface ActionRow {
  id: bigint;
  kind: string;
  status: EnforcementActionDto["status"];
  reason: string | null;
  requestedAt: Date;
  completedAt: Date | null;
  attempts: number;
  routerLatencyMs: number | null;
  totalLatencyMs: number | null;
  errorCause: number | null;
  lastError: string | null;
  path: string | null;
  escalated: boolean;
  requestedBy?: { username: string } | null;
}

export function toActionDto(a: ActionRow): EnforcementActionDto {
  return {
    id: String(a.id),
    kind: a.kind,
    status: a.status,
    reason: a.reason,
    requestedBy: a.requestedBy?.username ?? null,
    requestedAt: a.requestedAt.toISOString(),
    completedAt: a.completedAt?.toISOString() ?? null,
    attempts: a.attempts,
    routerLatencyMs: a.routerLatencyMs,
    totalLatencyMs: a.totalLatencyMs,
    errorCause: a.errorCause,
    lastError: a.lastError,
    path: a.path,
    escalated: a.escalated,
  };
}

export async function getAction(prisma: Prisma, scope: { dealerId?: number }, actionId: bigint): Promise<EnforcementActionDto | null> {
  const a = await prisma.enforcementAction.findFirst({
    where: { id: actionId, subscriber: scope },
    include: { requestedBy: { select: { username: true } } },
  });
  return a ? toActionDto(a) : null;
}
