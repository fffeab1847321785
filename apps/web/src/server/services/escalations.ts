import "server-only";
// The NOC's queue of escalated enforcement actions (docs/enforcement.md, "Escalations"):
// rows the worker gave up on (router refused, API failed, attempts exhausted) or the
// reconciler could not repair. An operator either retries one (the row goes back to the
// outbox with its attempts reset) or acknowledges it (handled outside the system). Both
// are one transaction with their audit row.
import type { createPrisma } from "@isp/db/client";

type Prisma = ReturnType<typeof createPrisma>;
type Scope = { dealerId?: number };

export const escalationsListMax = 200;

/** Statuses the worker leaves a row in when it is done with it. */
const finalStatuses = ["acked", "nak", "timeout", "failed"] as const;

export interface EscalationDto {
  id: string;
  subscriberId: number;
  accountNo: string;
  subscriberName: string;
  pppoeUsername: string;
  kind: string;
  status: string;
  path: string | null;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  errorCause: number | null;
  errorCode: string | null;
  reason: string | null;
  routerName: string | null;
  requestedAt: string;
  completedAt: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
}

export async function listEscalations(prisma: Prisma, scope: Scope, opts: { includeAcked: boolean; limit: number }): Promise<EscalationDto[]> {
  const rows = await prisma.enforcementAction.findMany({
    where: { escalated: true, ...(opts.includeAcked ? {} : { escalationAckedAt: null }), subscriber: scope },
    orderBy: [{ completedAt: { sort: "desc", nulls: "last" } }, { id: "desc" }],
    take: Math.min(opts.limit, escalationsListMax),
    include: { subscriber: { select: { accountNo: true, name: true, pppoeUsername: true } }, router: { select: { name: true } } },
  });
  return rows.map((r) => ({
    id: String(r.id),
    subscriberId: r.subscriberId,
    accountNo: r.subscriber.accountNo,
    subscriberName: r.subscriber.name,
    pppoeUsername: r.subscriber.pppoeUsername,
    kind: r.kind,
    status: r.status,
    path: r.path,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    lastError: r.lastError,
    errorCause: r.errorCause,
    errorCode: r.errorCode,
    reason: r.reason,
    routerName: r.router?.name ?? null,
    requestedAt: r.requestedAt.toISOString(),
    completedAt: r.completedAt?.toISOString() ?? null,
    ackedAt: r.escalationAckedAt?.toISOString() ?? null,
    ackedBy: r.escalationAckedBy,
  }));
}

export async function countOpenEscalations(prisma: Prisma, scope: Scope): Promise<number> {
  return prisma.enforcementAction.count({ where: { escalated: true, escalationAckedAt: null, subscriber: scope } });
}

export class EscalationError extends Error {
  constructor(
    message: string,
    readonly code: "NOT_FOUND" | "CONFLICT",
  ) {
    super(message);
    this.name = "EscalationError";
  }
}

interface Operator {
  id: number;
  username: string;
}

interface Target {
  id: bigint;
  subscriber_id: number;
  kind: string;
  status: string;
  escalated: boolean;
  escalation_acked_at: Date | null;
  attempts: number;
  last_error: string | null;
}

/** The row, locked, if the caller may see it; another dealer's row is indistinguishable from a missing one. */
async function lockVisible(tx: Parameters<Parameters<Prisma["$transaction"]>[0]>[0], scope: Scope, actionId: bigint): Promise<Target> {
  const rows = await tx.$queryRaw<Target[]>`
    SELECT o.id, o.subscriber_id, o.kind::text AS kind, o.status::text AS status, o.escalated, o.escalation_acked_at, o.attempts, o.last_error
      FROM enforcement_outbox o JOIN subscribers s ON s.id = o.subscriber_id
     WHERE o.id = ${actionId} AND (${scope.dealerId ?? null}::int IS NULL OR s.dealer_id = ${scope.dealerId ?? null}::int)
       FOR UPDATE OF o`;
  const row = rows[0];
  if (!row) throw new EscalationError("Action not found", "NOT_FOUND");
  return row;
}

/**
 * Puts an escalated row back in the outbox: pending now, attempts reset, escalation
 * cleared (the worker escalates it again if it fails again), NOTIFY for the worker.
 * Refused while it is being sent, when it is not escalated, and when a newer action for
 * the same subscriber exists (replaying an old suspend after a restore would undo it).
 */
export async function retryEscalation(prisma: Prisma, scope: Scope, operator: Operator, actionId: bigint): Promise<{ actionId: string }> {
  return prisma.$transaction(async (tx) => {
    const row = await lockVisible(tx, scope, actionId);
    if (!row.escalated) throw new EscalationError("Not escalated", "CONFLICT");
    if (!(finalStatuses as readonly string[]).includes(row.status)) throw new EscalationError(`Already ${row.status}`, "CONFLICT");
    const newer = await tx.$queryRaw<{ id: bigint }[]>`
      SELECT id FROM enforcement_outbox WHERE subscriber_id = ${row.subscriber_id} AND id > ${actionId} ORDER BY id LIMIT 1`;
    if (newer[0]) throw new EscalationError(`Superseded by action #${newer[0].id}; acknowledge it instead`, "CONFLICT");
    await tx.$executeRaw`
      UPDATE enforcement_outbox
         SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL, completed_at = NULL,
             escalated = false, escalation_acked_at = NULL, escalation_acked_by = NULL
       WHERE id = ${actionId}`;
    await tx.$executeRaw`
      INSERT INTO audit_log (operator_id, actor, action, entity_type, entity_id, details)
      VALUES (${operator.id}, ${operator.username}, 'enforcement.escalation_retried', 'subscriber', ${String(row.subscriber_id)},
              ${JSON.stringify({ actionId: String(actionId), kind: row.kind, before: { status: row.status, attempts: row.attempts, lastError: row.last_error } })}::jsonb)`;
    await tx.$executeRaw`SELECT pg_notify('enforcement', ${String(actionId)})`;
    return { actionId: String(actionId) };
  });
}

/** Marks an escalated row handled (by whom, when); it leaves the open list. Idempotent refusal: acknowledging twice is a conflict. */
export async function acknowledgeEscalation(prisma: Prisma, scope: Scope, operator: Operator, actionId: bigint, note: string | undefined): Promise<{ actionId: string; ackedAt: string }> {
  return prisma.$transaction(async (tx) => {
    const row = await lockVisible(tx, scope, actionId);
    if (!row.escalated) throw new EscalationError("Not escalated", "CONFLICT");
    if (row.escalation_acked_at) throw new EscalationError("Already acknowledged", "CONFLICT");
    const done = await tx.$queryRaw<{ at: Date }[]>`
      UPDATE enforcement_outbox SET escalation_acked_at = now(), escalation_acked_by = ${operator.username}
       WHERE id = ${actionId} RETURNING escalation_acked_at AS at`;
    await tx.$executeRaw`
      INSERT INTO audit_log (operator_id, actor, action, entity_type, entity_id, details)
      VALUES (${operator.id}, ${operator.username}, 'enforcement.escalation_acked', 'subscriber', ${String(row.subscriber_id)},
              ${JSON.stringify({ actionId: String(actionId), kind: row.kind, status: row.status, lastError: row.last_error, note: note ?? null })}::jsonb)`;
    // Delivered at commit: the collector tells every NOC screen (open counts, other agents' lists).
    await tx.$executeRaw`SELECT pg_notify('escalation_changed', ${String(actionId)})`;
    return { actionId: String(actionId), ackedAt: done[0]!.at.toISOString() };
  });
}
