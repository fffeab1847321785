// Outbox for actions the collector carries out against routers. The row, its audit
// entry and the NOTIFY share one transaction: the collector hears about the action only
// once it is committed, and a failure leaves no trace at all.
import type { PrismaClient } from "./generated/prisma/client";

export const enforcementChannel = "enforcement";

export const enforcementKinds = [
  "disconnect",
  "kick",
  "suspend",
  "restore",
  "change_plan",
  "throttle",
  "walled_garden_on",
  "walled_garden_off",
  "terminate",
] as const;
export type EnforcementKind = (typeof enforcementKinds)[number];

export interface EnforcementRequest {
  kind: EnforcementKind;
  subscriberId: number;
  /** change_plan: the new plan (must exist and be active). */
  planId?: number;
  /** throttle: the fair-usage rates; default the plan's fup rates. */
  rate?: { downloadKbps: number; uploadKbps: number };
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

export class InvalidActionError extends Error {
  override name = "InvalidActionError";
}

/** The subscriber status an action leaves behind (null: the action does not change it). */
export function statusAfter(kind: EnforcementKind): "active" | "suspended" | "terminated" | null {
  return kind === "suspend" ? "suspended" : kind === "restore" ? "active" : kind === "terminate" ? "terminated" : null;
}

/**
 * One transaction: the subscriber's state change (status for suspend/restore/terminate,
 * plan for change_plan), the outbox row, the audit row and the NOTIFY.
 */
export async function requestEnforcement(
  prisma: PrismaClient,
  req: EnforcementRequest,
): Promise<{ actionId: string }> {
  return prisma.$transaction(async (tx) => {
    const subscriber = await tx.subscriber.findUnique({
      where: { id: req.subscriberId },
      select: { id: true, status: true, planId: true },
    });
    if (!subscriber) throw new UnknownSubscriberError(req.subscriberId);
    const before = { status: subscriber.status, planId: subscriber.planId };
    const status = statusAfter(req.kind);
    if (subscriber.status === "terminated" && req.kind !== "terminate" && req.kind !== "disconnect" && req.kind !== "kick") {
      throw new InvalidActionError("subscriber is terminated");
    }
    let params: { downloadKbps: number; uploadKbps: number; planId?: number } | null = null;
    if (req.kind === "change_plan") {
      if (req.planId === undefined) throw new InvalidActionError("change_plan needs a plan");
      const plan = await tx.plan.findUnique({ where: { id: req.planId }, select: { id: true, active: true, downloadKbps: true, uploadKbps: true } });
      if (!plan?.active) throw new InvalidActionError(`plan ${req.planId} does not exist or is retired`);
      await tx.subscriber.update({ where: { id: req.subscriberId }, data: { planId: plan.id } });
      params = { planId: plan.id, downloadKbps: plan.downloadKbps, uploadKbps: plan.uploadKbps };
    } else if (req.kind === "throttle") {
      const p = await tx.plan.findUniqueOrThrow({
        where: { id: subscriber.planId },
        select: { fupDownloadKbps: true, fupUploadKbps: true, downloadKbps: true, uploadKbps: true },
      });
      // Without fair-usage rates on the plan, a quarter of the plan's rate.
      params = req.rate ?? {
        downloadKbps: p.fupDownloadKbps ?? Math.max(64, Math.floor(p.downloadKbps / 4)),
        uploadKbps: p.fupUploadKbps ?? Math.max(64, Math.floor(p.uploadKbps / 4)),
      };
    }
    if (status && status !== subscriber.status) {
      await tx.subscriber.update({ where: { id: req.subscriberId }, data: { status } });
    }
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
        ...(params ? { params } : {}),
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
          before,
          after: { status: status ?? subscriber.status, planId: params?.planId ?? subscriber.planId },
          params,
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
