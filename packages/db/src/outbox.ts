// Outbox for actions the collector carries out against routers. The state change, the
// row, its audit entry and the NOTIFY are one SQL statement (one round trip, atomic): the
// collector hears about the action only once it is committed, and a failure leaves no
// trace at all.
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
  /** The caller's scope: only a subscriber of this dealer is found (else UnknownSubscriberError). */
  dealerId?: number;
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

/** What a Prisma client (or a transaction client) offers for one raw statement. */
export type RawQueryable = Pick<PrismaClient, "$queryRawUnsafe">;

// $1 subscriber, $2 kind, $3 plan (change_plan), $4 rate (throttle, jsonb), $5 operator,
// $6 actor, $7 reason, $8 status after (null: unchanged), $9 the caller's dealer scope.
//  - sub: the subscriber, locked (two actions on one subscriber queue behind each other,
//    so each audit row's before/after is exact);
//  - chk: the validation (the same rules and messages as InvalidActionError always had:
//    a terminated subscriber takes only disconnect/kick/terminate; change_plan needs an
//    existing, active plan) and the params (change_plan: the plan's rates; throttle: the
//    given rate, else the plan's fup rates, else a quarter of the plan's, min 64 kbps);
//  - upd, ins, aud: state change, outbox row, audit row, only when chk found no error;
//  - note: pg_notify, delivered on commit (never for a failed statement).
// Data-modifying CTEs run whether referenced or not; `note` is a SELECT, so the final
// SELECT references it.
const REQUEST_SQL = `
WITH sub AS (
  SELECT s.id, s.status::text AS status, s.plan_id FROM subscribers s
   WHERE s.id = $1::int AND ($9::int IS NULL OR s.dealer_id = $9::int) FOR UPDATE),
chk AS (
  SELECT sub.id, sub.status, sub.plan_id,
         CASE
           WHEN sub.status = 'terminated' AND $2::text NOT IN ('terminate', 'disconnect', 'kick') THEN 'subscriber is terminated'
           WHEN $2::text = 'change_plan' AND $3::int IS NULL THEN 'change_plan needs a plan'
           WHEN $2::text = 'change_plan' AND NOT COALESCE(np.active, false) THEN 'plan ' || $3::int || ' does not exist or is retired'
         END AS error,
         CASE
           WHEN $2::text = 'change_plan' THEN jsonb_build_object('planId', np.id, 'downloadKbps', np.download_kbps, 'uploadKbps', np.upload_kbps)
           WHEN $2::text = 'throttle' THEN COALESCE($4::jsonb, jsonb_build_object(
             'downloadKbps', COALESCE(cp.fup_download_kbps, GREATEST(64, cp.download_kbps / 4)),
             'uploadKbps', COALESCE(cp.fup_upload_kbps, GREATEST(64, cp.upload_kbps / 4))))
         END AS params,
         COALESCE($8::text, sub.status) AS status_after,
         CASE WHEN $2::text = 'change_plan' THEN np.id ELSE sub.plan_id END AS plan_after
    FROM sub
    LEFT JOIN plans np ON $2::text = 'change_plan' AND np.id = $3::int
    LEFT JOIN plans cp ON cp.id = sub.plan_id),
ok AS (SELECT * FROM chk WHERE error IS NULL),
upd AS (
  UPDATE subscribers s SET status = ok.status_after::subscriber_status, plan_id = ok.plan_after, updated_at = now()
    FROM ok
   WHERE s.id = ok.id AND (ok.status_after IS DISTINCT FROM ok.status OR ok.plan_after IS DISTINCT FROM ok.plan_id)
  RETURNING s.id),
sess AS (
  -- No active session still gets a row: the worker answers "no session" and the operator
  -- sees that answer like any other.
  SELECT r.id, r.router_id, r.acct_session_id FROM radius_sessions r
   WHERE r.subscriber_id = (SELECT id FROM ok) AND r.status = 'active'
   ORDER BY r.started_at DESC LIMIT 1),
ins AS (
  INSERT INTO enforcement_outbox (kind, subscriber_id, router_id, acct_session_id, requested_by_id, reason, params)
  SELECT $2::text::enforcement_kind, ok.id, sess.router_id, sess.acct_session_id, $5::int, $7::text, ok.params
    FROM ok LEFT JOIN sess ON true
  RETURNING id),
aud AS (
  INSERT INTO audit_log (operator_id, actor, action, entity_type, entity_id, details)
  SELECT $5::int, $6::text, 'subscriber.' || $2::text, 'subscriber', ok.id::text, jsonb_build_object(
           'actionId', ins.id::text,
           'reason', $7::text,
           'before', jsonb_build_object('status', ok.status, 'planId', ok.plan_id),
           'after', jsonb_build_object('status', ok.status_after, 'planId', ok.plan_after),
           'params', ok.params,
           'session', CASE WHEN sess.id IS NULL THEN NULL
                           ELSE jsonb_build_object('id', sess.id::text, 'routerId', sess.router_id, 'acctSessionId', sess.acct_session_id) END)
    FROM ok CROSS JOIN ins LEFT JOIN sess ON true
  RETURNING id),
note AS (SELECT pg_notify('${enforcementChannel}', ins.id::text) FROM ins)
SELECT (SELECT count(*) FROM sub)::int AS found,
       (SELECT error FROM chk) AS error,
       (SELECT id::text FROM ins) AS action_id,
       (SELECT count(*) FROM aud)::int AS audited,
       (SELECT count(*) FROM note)::int AS notified`;

/**
 * One statement (one round trip, atomic): the subscriber's state change (status for
 * suspend/restore/terminate, plan for change_plan), the outbox row, the audit row and the
 * NOTIFY. Throws UnknownSubscriberError / InvalidActionError with nothing written.
 */
export async function requestEnforcement(prisma: RawQueryable, req: EnforcementRequest): Promise<{ actionId: string }> {
  const rate = req.kind === "throttle" && req.rate ? JSON.stringify({ downloadKbps: req.rate.downloadKbps, uploadKbps: req.rate.uploadKbps }) : null;
  const rows = await prisma.$queryRawUnsafe<{ found: number; error: string | null; action_id: string | null; audited: number; notified: number }[]>(
    REQUEST_SQL,
    req.subscriberId,
    req.kind,
    req.planId ?? null,
    rate,
    req.operatorId,
    req.actor,
    req.reason ?? null,
    statusAfter(req.kind),
    req.dealerId ?? null,
  );
  const r = rows[0];
  if (!r || r.found === 0) throw new UnknownSubscriberError(req.subscriberId);
  if (r.error !== null) throw new InvalidActionError(r.error);
  if (r.action_id === null || r.audited !== 1 || r.notified !== 1) {
    // Unreachable: chk found no error, so ins, aud and note each made one row.
    throw new Error(`enforcement request for subscriber ${req.subscriberId} wrote no outbox row`);
  }
  return { actionId: r.action_id };
}
