// Proration of mid-cycle plan changes and terminations (docs/billing-runs.md, "Plan changes
// and terminations"). Support's change_plan / terminate (requestEnforcement) and the
// dunning run's terminate write an audit row with the action id and the plan/status before
// and after; this step turns each into, at most once:
// - change_plan inside a period a billing run invoiced before the change: credit the unused
//   days of the plan in force before it and charge the new plan for the same days
//   (`prorateChange`): an invoice when the net is a charge (upgrade), a credit note when
//   money is owed back (downgrade). Several changes in one period chain: each credits the
//   plan its own audit row says was in force before it.
// - terminate inside such a period: a credit note for the unused days (`prorateTermination`).
// - anything else records why nothing was posted (period not invoiced before the action:
//   the billing run bills the plan in force then; billing-cycle change; same plan; already
//   terminated). Suspend and restore do not prorate: a suspended subscriber is still billed.
// Dates are Karachi business dates; taxes per line as the billing run does (issue date =
// the effective date, the tax point).
import { addDays, formatDate, type Period, toDate } from "@isp/billing/cycles";
import { buildInvoice, invoiceLedgerTransaction, prorationCharges } from "@isp/billing/invoice";
import { prorateChange, prorateTermination, type ProrationResult } from "@isp/billing/proration";
import {
  type AdjustmentDecision,
  type AdjustmentInput,
  type AdjustmentResult,
  type PendingOptions,
  pendingAdjustments,
  processAdjustment,
} from "@isp/db/billing-adjustments";
import type pg from "pg";
import type { Logger } from "../log";
import { storedInvoiceLines } from "./billing-run";
import { type BillingConfig, defaultBillingConfig } from "./config";

const none = (note: string): AdjustmentDecision => ({ outcome: "none", note });

/** Pure: the adjustment document of one action, or why there is none (exported for tests). */
export function decideAdjustment(input: AdjustmentInput, cfg: BillingConfig = defaultBillingConfig): AdjustmentDecision {
  if (input.period === null) return none("no billing-run invoice of this period was issued before the action; the run bills the plan in force");
  const { from, to } = input;
  if (from === null) return none("plan before the action is unknown");
  const period: Period = { index: 0, start: toDate(input.period.start), end: addDays(toDate(input.period.lastDay), 1) };
  let result: ProrationResult;
  let source: string;
  if (input.action === "terminate") {
    if (input.beforeStatus === "terminated") return none("already terminated");
    result = prorateTermination({ period, plan: { name: from.name, pricePaisa: from.pricePaisa }, terminatedOn: input.effectiveOn });
    source = `termination:${input.actionId}`;
  } else {
    if (to === null) return none("new plan is unknown");
    if (to.id === from.id) return none("same plan");
    if (to.billingCycle !== from.billingCycle) return none(`billing cycle changes from ${from.billingCycle} to ${to.billingCycle}: not prorated`);
    result = prorateChange({
      period,
      from: { name: from.name, pricePaisa: from.pricePaisa },
      to: { name: to.name, pricePaisa: to.pricePaisa },
      effectiveOn: input.effectiveOn,
    });
    source = `plan_change:${input.actionId}`;
  }
  if (result.lines.every((l) => l.amountPaisa === 0)) return none("nothing to prorate");
  const issuedOn = input.effectiveOn;
  const doc = buildInvoice({
    invoiceId: `${input.subscriberId}:${source}`,
    subscriberId: String(input.subscriberId),
    region: cfg.regionOfCity[input.city] ?? "unknown",
    issuedOn,
    dueOn: formatDate(addDays(toDate(issuedOn), cfg.dueDays)),
    charges: prorationCharges(result),
    taxRules: cfg.taxRules,
  });
  const tx = invoiceLedgerTransaction(doc);
  if (doc.totals.totalPaisa === 0 || tx === null) return none("the credit and the charge cancel out");
  const year = issuedOn.slice(0, 4);
  return {
    outcome: "document",
    source,
    document: {
      kind: doc.kind,
      series: `${doc.kind === "invoice" ? cfg.seriesPrefix : cfg.creditNoteSeriesPrefix}-${year}`,
      issuedOn: doc.issuedOn,
      dueOn: doc.dueOn,
      periodStart: issuedOn,
      periodEnd: input.period.lastDay,
      netPaisa: doc.totals.netPaisa,
      taxPaisa: doc.totals.taxPaisa,
      totalPaisa: doc.totals.totalPaisa,
      lines: storedInvoiceLines(doc),
      ledger: { key: tx.id, kind: tx.kind, entries: tx.entries.map((e) => ({ account: e.account, amountPaisa: e.debitPaisa ?? -e.creditPaisa })) },
    },
  };
}

export interface AdjustmentRunOptions extends Partial<PendingOptions> {
  config?: Partial<BillingConfig>;
  log?: Logger;
  /** Bound on one pass: at most this many batches of `limit` actions. Default 20. */
  maxBatches?: number;
}

export interface AdjustmentRunResult {
  processed: number;
  invoices: number;
  creditNotes: number;
  none: number;
  results: AdjustmentResult[];
}

export const defaultPendingOptions: PendingOptions = { limit: 200, settleSeconds: 60, lookbackDays: 62, overlapMinutes: 60 };

/**
 * One pass over the unprocessed change_plan / terminate actions, oldest first, one
 * transaction each. Safe to run concurrently with itself, the billing and the dunning
 * runs: the subscriber row lock and the action-id key serialise and deduplicate. A
 * database error aborts the pass (the next pass retries that action); a rule error on one
 * action (bad plan data) is recorded on it as "failed: …" and logged.
 */
export async function runAdjustments(pool: pg.Pool, opts: AdjustmentRunOptions = {}): Promise<AdjustmentRunResult> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const pending: PendingOptions = {
    limit: opts.limit ?? defaultPendingOptions.limit,
    settleSeconds: opts.settleSeconds ?? defaultPendingOptions.settleSeconds,
    lookbackDays: opts.lookbackDays ?? defaultPendingOptions.lookbackDays,
    overlapMinutes: opts.overlapMinutes ?? defaultPendingOptions.overlapMinutes,
  };
  const rules = {
    decide(input: AdjustmentInput): AdjustmentDecision {
      try {
        return decideAdjustment(input, cfg);
      } catch (err) {
        opts.log?.error("plan change / termination proration failed; recorded without a document", { actionId: input.actionId, error: err });
        return none(`failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500));
      }
    },
  };
  const out: AdjustmentRunResult = { processed: 0, invoices: 0, creditNotes: 0, none: 0, results: [] };
  for (let batch = 0; batch < (opts.maxBatches ?? 20); batch++) {
    const actions = await pendingAdjustments(pool, pending);
    for (const a of actions) {
      const r = await processAdjustment(pool, a, rules);
      if (r.outcome === "duplicate") continue;
      out.processed++;
      if (r.outcome === "invoice") out.invoices++;
      else if (r.outcome === "credit_note") out.creditNotes++;
      else out.none++;
      out.results.push(r);
      if (r.number) opts.log?.info("proration posted", { actionId: r.actionId, number: r.number, totalPaisa: r.totalPaisa });
    }
    if (actions.length < pending.limit) break;
  }
  if (out.processed > 0) opts.log?.info("plan change / termination proration pass", { processed: out.processed, invoices: out.invoices, creditNotes: out.creditNotes, none: out.none });
  return out;
}
