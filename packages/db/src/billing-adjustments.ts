// Proration of mid-cycle plan changes and terminations, database side. The actions are
// the audit rows `subscriber.change_plan` / `subscriber.terminate` (written by
// requestEnforcement and by the dunning run, with the action id, before/after plan and
// status); each is processed once, in its own transaction, into an adjustment document (an
// invoice or a credit note, numbered gaplessly in its series) with its ledger transaction
// and an audit row, or into a recorded "nothing to post" with the reason. The
// `billing_adjustments` primary key (the action id) and `invoices.source` (unique) make a
// re-run or a crash after commit post nothing twice. The amounts come from the caller's
// pure `rules` (@isp/billing in the collector): packages do not import each other.
import type pg from "pg";
import { type Db, type TemplateLine, withTransaction } from "./billing-store";

export type AdjustmentAction = "change_plan" | "terminate";

/** One change_plan / terminate audit row not processed yet. */
export interface PendingAdjustment {
  auditId: string;
  actionId: string;
  action: AdjustmentAction;
  subscriberId: number;
  /** The audit row's time (the action's commit, near enough: one statement). */
  at: Date;
  /** Karachi business date of `at`: the first day under the new plan / without service. */
  effectiveOn: string;
  beforePlanId: number | null;
  afterPlanId: number | null;
  beforeStatus: string | null;
}

export interface AdjustmentPlan {
  id: number;
  name: string;
  pricePaisa: number;
  billingCycle: string;
}

/** What the rules see: the action, the subscriber and the run-invoiced period covering the effective date. */
export interface AdjustmentInput {
  action: AdjustmentAction;
  actionId: string;
  subscriberId: number;
  city: string;
  effectiveOn: string;
  /**
   * The billing-run invoice whose period contains `effectiveOn` and that was issued before
   * the action (so it charged the plan in force before it); null when there is none.
   */
  period: { start: string; lastDay: string; number: string } | null;
  /** change_plan: the plan before and after; terminate: `from` is the plan in force, `to` null. */
  from: AdjustmentPlan | null;
  to: AdjustmentPlan | null;
  beforeStatus: string | null;
}

export interface AdjustmentDocument {
  kind: "invoice" | "credit_note";
  /** `INV-2026`, `CN-2026`: numbered gaplessly from invoice_counters. */
  series: string;
  issuedOn: string;
  /** null for a credit note (stored as its issue date, like the run's credit notes). */
  dueOn: string | null;
  /** The adjusted days: effective date to the period's last day. */
  periodStart: string;
  periodEnd: string;
  netPaisa: number;
  taxPaisa: number;
  totalPaisa: number;
  lines: TemplateLine[];
  /** Signed entries (debit +), with the subscriber's own `receivable:<id>` account. */
  ledger: { key: string; kind: string; entries: { account: string; amountPaisa: number }[] };
}

export type AdjustmentDecision = { outcome: "document"; source: string; document: AdjustmentDocument } | { outcome: "none"; note: string };

export interface AdjustmentRules {
  /** Pure: the document this action implies, or why there is none. */
  decide(input: AdjustmentInput): AdjustmentDecision;
}

export interface AdjustmentResult {
  actionId: string;
  /** duplicate: processed before (by an earlier pass or a racing one); nothing written now. */
  outcome: "invoice" | "credit_note" | "none" | "duplicate";
  number: string | null;
  totalPaisa: number;
  note: string | null;
}

/** How far back the very first scan looks, and how far behind the newest processed action later scans start (commit-order slack). */
export interface PendingOptions {
  limit: number;
  /** Actions younger than this are left for the next pass (a billing chunk in flight may not have committed its invoice yet). */
  settleSeconds: number;
  /** The first scan (no adjustment processed yet) looks back this many days. */
  lookbackDays: number;
  /** Later scans start this long before the newest processed action (actions commit out of id order). */
  overlapMinutes: number;
}

/**
 * change_plan / terminate audit rows without a `billing_adjustments` row, oldest first.
 * The scan is bounded by the `at` index: from `overlapMinutes` before the newest processed
 * action (or `lookbackDays` ago on the first pass) to `settleSeconds` ago.
 */
export async function pendingAdjustments(db: Db, opts: PendingOptions): Promise<PendingAdjustment[]> {
  const r = await db.query<{
    auditId: string;
    actionId: string;
    action: AdjustmentAction;
    subscriberId: number;
    at: Date;
    effectiveOn: string;
    beforePlanId: number | null;
    afterPlanId: number | null;
    beforeStatus: string | null;
  }>(
    `WITH since AS (
       SELECT coalesce((SELECT max(action_at) FROM billing_adjustments) - make_interval(mins => $4::int),
                       now() - make_interval(days => $3::int)) AS t
     )
     SELECT a.id::text AS "auditId", a.details->>'actionId' AS "actionId", substr(a.action, 12) AS action,
            a.entity_id::int AS "subscriberId", a.at,
            to_char(a.at AT TIME ZONE 'Asia/Karachi', 'YYYY-MM-DD') AS "effectiveOn",
            (a.details->'before'->>'planId')::int AS "beforePlanId", (a.details->'after'->>'planId')::int AS "afterPlanId",
            a.details->'before'->>'status' AS "beforeStatus"
       FROM audit_log a, since
      WHERE a.at >= since.t AND a.at < now() - make_interval(secs => $2::int)
        AND a.action IN ('subscriber.change_plan', 'subscriber.terminate') AND a.entity_type = 'subscriber'
        AND a.details->>'actionId' ~ '^[0-9]+$'
        AND NOT EXISTS (SELECT 1 FROM billing_adjustments b WHERE b.action_id = (a.details->>'actionId')::bigint)
      ORDER BY a.at, a.id
      LIMIT $1`,
    [opts.limit, opts.settleSeconds, opts.lookbackDays, opts.overlapMinutes],
  );
  return r.rows;
}

async function planOf(c: pg.PoolClient, id: number | null): Promise<AdjustmentPlan | null> {
  if (id === null) return null;
  const r = await c.query<AdjustmentPlan>(
    `SELECT id, name, price_paisa AS "pricePaisa", billing_cycle::text AS "billingCycle" FROM plans WHERE id = $1`,
    [id],
  );
  return r.rows[0] ?? null;
}

/**
 * One action, one transaction: the subscriber row lock (serialises with payments, the
 * dunning run and a racing pass), the "processed already?" check, the run invoice covering
 * the effective date, `rules.decide`, then the document (counter locked, gapless number),
 * its lines, ledger transaction (the balance trigger checks it), an `invoice.adjustment`
 * audit row and the `billing_adjustments` row — or only that row, with the reason.
 */
export async function processAdjustment(pool: pg.Pool, p: PendingAdjustment, rules: AdjustmentRules, actor = "billing"): Promise<AdjustmentResult> {
  return withTransaction(pool, async (c) => {
    const sub = await c.query<{ city: string; planId: number }>(`SELECT city, plan_id AS "planId" FROM subscribers WHERE id = $1 FOR UPDATE`, [p.subscriberId]);
    const done = await c.query(`SELECT 1 FROM billing_adjustments WHERE action_id = $1`, [p.actionId]);
    if (done.rows.length > 0) return { actionId: p.actionId, outcome: "duplicate", number: null, totalPaisa: 0, note: null };
    const kind = p.action === "change_plan" ? "plan_change" : "termination";
    const record = async (outcome: string, invoiceId: number | null, total: number, note: string | null) => {
      await c.query(
        `INSERT INTO billing_adjustments (action_id, audit_id, action_at, subscriber_id, kind, effective_on, outcome, invoice_id, total_paisa, note)
         VALUES ($1, $2, $3, $4, $5, $6::date, $7, $8, $9, $10)`,
        [p.actionId, p.auditId, p.at, p.subscriberId, kind, p.effectiveOn, outcome, invoiceId, total, note],
      );
    };
    const s = sub.rows[0];
    if (!s) {
      await record("none", null, 0, "subscriber no longer exists");
      return { actionId: p.actionId, outcome: "none", number: null, totalPaisa: 0, note: "subscriber no longer exists" };
    }
    // The billing-run invoice (late fees and adjustments have no run id) of the period the
    // action fell in, issued before the action: it charged the plan in force before it.
    const inv = await c.query<{ start: string; lastDay: string; number: string }>(
      `SELECT to_char(period_start, 'YYYY-MM-DD') AS start, to_char(period_end, 'YYYY-MM-DD') AS "lastDay", number
         FROM invoices
        WHERE subscriber_id = $1 AND kind = 'invoice' AND source IS NULL AND billing_run_id IS NOT NULL AND status <> 'void'
          AND period_start <= $2::date AND period_end >= $2::date AND issued_at < $3
        ORDER BY period_start DESC LIMIT 1`,
      [p.subscriberId, p.effectiveOn, p.at],
    );
    const from = await planOf(c, p.action === "change_plan" ? p.beforePlanId : (p.beforePlanId ?? s.planId));
    const to = p.action === "change_plan" ? await planOf(c, p.afterPlanId) : null;
    const decision = rules.decide({
      action: p.action,
      actionId: p.actionId,
      subscriberId: p.subscriberId,
      city: s.city,
      effectiveOn: p.effectiveOn,
      period: inv.rows[0] ?? null,
      from,
      to,
      beforeStatus: p.beforeStatus,
    });
    if (decision.outcome === "none") {
      await record("none", null, 0, decision.note);
      return { actionId: p.actionId, outcome: "none", number: null, totalPaisa: 0, note: decision.note };
    }
    const d = decision.document;
    await c.query(`INSERT INTO invoice_counters (series) VALUES ($1) ON CONFLICT DO NOTHING`, [d.series]);
    const counter = await c.query<{ seq: number }>(`UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE series = $1 RETURNING last_seq AS seq`, [d.series]);
    const seq = counter.rows[0]!.seq;
    const number = `${d.series}-${String(seq).padStart(7, "0")}`;
    // One statement: invoice, lines, ledger transaction and its entries (all entries of a
    // transaction in one statement for the balance trigger), audit row.
    const r = await c.query<{ id: number }>(
      `WITH inv AS (
         INSERT INTO invoices (number, series, seq, subscriber_id, kind, period_start, period_end, issued_on, due_date,
                               net_paisa, tax_paisa, total_paisa, status, source)
         VALUES ($1, $2, $3, $4, $5::invoice_kind, $6::date, $7::date, $8::date, coalesce($9::date, $8::date), $10, $11, $12, 'open', $13)
         RETURNING id
       ),
       lines AS (
         INSERT INTO invoice_lines (invoice_id, position, kind, description, revenue_account, charged_paisa, discount_paisa,
                                    net_paisa, tax_paisa, total_paisa, taxes)
         SELECT inv.id, l.position, l.kind, l.description, l."revenueAccount", l."chargedPaisa", l."discountPaisa",
                l."netPaisa", l."taxPaisa", l."totalPaisa", l.taxes
         FROM inv CROSS JOIN LATERAL jsonb_to_recordset($14::jsonb) AS l(position int, kind text, description text, "revenueAccount" text,
           "chargedPaisa" bigint, "discountPaisa" bigint, "netPaisa" bigint, "taxPaisa" bigint, "totalPaisa" bigint, taxes jsonb)
       ),
       ltx AS (
         INSERT INTO ledger_transactions (key, kind, subscriber_id, occurred_on)
         SELECT $15, $16, $4, $8::date WHERE jsonb_array_length($17::jsonb) > 0
         RETURNING id
       ),
       le AS (
         INSERT INTO ledger_entries (transaction_id, account, amount_paisa)
         SELECT ltx.id, e.account, e."amountPaisa" FROM ltx CROSS JOIN LATERAL jsonb_to_recordset($17::jsonb) AS e(account text, "amountPaisa" bigint)
       ),
       au AS (
         INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
         SELECT $18, 'invoice.adjustment', 'subscriber', $4::text,
                jsonb_build_object('number', $1::text, 'kind', $5::text, 'source', $13::text, 'actionId', $19::text,
                                   'effectiveOn', $6::text, 'totalPaisa', $12::bigint, 'fromPlanId', $20::int, 'toPlanId', $21::int)
       )
       SELECT id FROM inv`,
      [
        number,
        d.series,
        seq,
        p.subscriberId,
        d.kind,
        d.periodStart,
        d.periodEnd,
        d.issuedOn,
        d.dueOn,
        d.netPaisa,
        d.taxPaisa,
        d.totalPaisa,
        decision.source,
        JSON.stringify(d.lines),
        d.ledger.key,
        d.ledger.kind,
        JSON.stringify(d.ledger.entries),
        actor,
        p.actionId,
        from?.id ?? null,
        to?.id ?? null,
      ],
    );
    await record(d.kind, r.rows[0]!.id, d.totalPaisa, null);
    return { actionId: p.actionId, outcome: d.kind, number, totalPaisa: d.totalPaisa, note: null };
  });
}
