// The monthly billing run: every billable postpaid subscriber gets one invoice for the
// period. Documents come from the pure builder once per (plan, city) template, since
// every subscriber on the same plan in the same tax region gets the same lines; the
// database then writes a chunk of subscribers per transaction with set-based SQL.
// Resumable: the run row keeps a cursor (last subscriber id done); a restart continues
// after it, and the unique (subscriber, period, kind) key makes a redone chunk harmless.
import { type BillingPlan, addDays, formatDate, lastDay, periodContaining, toDate } from "@isp/billing/cycles";
import { buildInvoice, invoiceLedgerTransaction, subscriptionCharge } from "@isp/billing/invoice";
import {
  type InvoiceTemplate,
  billChunk,
  billablePlanCities,
  countBillable,
  finishRun,
  lockRun,
  planRows,
  startOrResumeRun,
  unlockRun,
} from "@isp/db/billing-store";
import type pg from "pg";
import type { Logger } from "../log";
import { type BillingConfig, defaultBillingConfig } from "./config";

export interface BillingProgress {
  runId: string;
  periodStart: string;
  /** Subscribers looked at so far (including earlier attempts of a resumed run). */
  processed: number;
  total: number;
  /** Invoices created so far by this run. */
  created: number;
  done: boolean;
}

export interface BillingRunOptions {
  /** First day of the month to bill, YYYY-MM-DD. */
  periodStart: string;
  config?: Partial<BillingConfig>;
  log?: Logger;
  /** Called after every chunk commits (the live hub can forward it). A throw aborts the run (resumable). */
  onProgress?: (p: BillingProgress) => void;
}

export interface BillingRunResult extends BillingProgress {
  resumed: boolean;
  seconds: number;
}

const monthly: BillingPlan = { kind: "monthly_fixed_day", day: 1 };
/** Prepaid plans are billed at recharge (dealer flow) and expire instead of dunning. */
const billableStatuses = ["active", "suspended"] as const;
const templateSubscriber = "__subscriber__";

export class BillingRunBusyError extends Error {
  override name = "BillingRunBusyError";
}

export async function runBilling(pool: pg.Pool, opts: BillingRunOptions): Promise<BillingRunResult> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const started = performance.now();
  const period = periodContaining(monthly, "2000-01-01", opts.periodStart);
  const periodStart = formatDate(period.start);
  if (periodStart !== opts.periodStart) throw new RangeError(`periodStart ${opts.periodStart} is not the first day of a month`);
  const issuedOn = periodStart;
  const dueOn = formatDate(addDays(toDate(issuedOn), cfg.dueDays));
  const series = `${cfg.seriesPrefix}-${issuedOn.slice(0, 4)}`;

  const session = await pool.connect();
  try {
    if (!(await lockRun(session, "billing", periodStart))) throw new BillingRunBusyError(`a billing run for ${periodStart} is already running`);
    try {
      const plans = (await planRows(session)).filter((p) => p.billingCycle === "monthly");
      const filter = { statuses: billableStatuses, planIds: plans.map((p) => p.id) };
      const templates: InvoiceTemplate[] = [];
      for (const { planId, city } of await billablePlanCities(session, filter)) {
        const plan = plans.find((p) => p.id === planId);
        if (!plan) continue;
        const region = cfg.regionOfCity[city];
        if (region === undefined) opts.log?.warn("city has no tax region; only region-less tax rules apply", { city });
        const doc = buildInvoice({
          invoiceId: `${templateSubscriber}:${periodStart}`,
          subscriberId: templateSubscriber,
          region: region ?? "unknown",
          issuedOn,
          dueOn,
          charges: [subscriptionCharge({ name: plan.name, pricePaisa: plan.pricePaisa }, period)],
          taxRules: cfg.taxRules,
        });
        const tx = invoiceLedgerTransaction(doc);
        templates.push({
          planId,
          city,
          kind: doc.kind,
          netPaisa: doc.totals.netPaisa,
          taxPaisa: doc.totals.taxPaisa,
          totalPaisa: doc.totals.totalPaisa,
          lines: doc.lines.map((l, i) => ({
            position: i + 1,
            kind: l.kind,
            description: l.description,
            revenueAccount: l.revenueAccount,
            chargedPaisa: l.chargedPaisa,
            discountPaisa: l.discountPaisa,
            netPaisa: l.netPaisa,
            taxPaisa: l.totalPaisa - l.netPaisa,
            totalPaisa: l.totalPaisa,
            taxes: l.taxes,
          })),
          entries: (tx?.entries ?? []).map((e) => ({
            account: e.account === `receivable:${templateSubscriber}` ? "receivable" : e.account,
            amountPaisa: e.debitPaisa ?? -e.creditPaisa,
          })),
        });
      }

      const { run, resumed } = await startOrResumeRun(session, "billing", periodStart);
      const total = await countBillable(session, filter);
      // A requested run is an existing row too; it only resumes once it has a cursor.
      opts.log?.info(resumed && run.cursor > 0 ? "billing run resumed" : "billing run started", { runId: run.id, periodStart, cursor: run.cursor, total, templates: templates.length });
      let { cursor, processed, created } = run;
      try {
        for (;;) {
          const r = await billChunk(pool, {
            ...filter,
            runId: run.id,
            series,
            periodStart,
            periodEnd: formatDate(lastDay(period)),
            issuedOn,
            dueOn,
            cursor,
            chunkSize: cfg.chunkSize,
            templates,
          });
          if (r.done) break;
          cursor = r.cursor;
          processed += r.processed;
          created += r.created;
          opts.log?.info("billing chunk", { runId: run.id, processed, total, created });
          opts.onProgress?.({ runId: run.id, periodStart, processed, total, created, done: false });
        }
      } catch (err) {
        await finishRun(session, run.id, "failed", err instanceof Error ? err.message : String(err));
        opts.log?.error("billing run failed; a restart resumes it", { runId: run.id, cursor, error: err });
        throw err;
      }
      await finishRun(session, run.id, "completed");
      const seconds = (performance.now() - started) / 1000;
      opts.log?.info("billing run completed", { runId: run.id, processed, created, seconds });
      const result = { runId: run.id, periodStart, processed, total, created, done: true };
      opts.onProgress?.(result);
      return { ...result, resumed, seconds };
    } finally {
      await unlockRun(session, "billing", periodStart);
    }
  } finally {
    session.release();
  }
}
