// The billing run of a calendar month. Postpaid plans bill in advance:
// - monthly plans (fixed day 1): the month; a subscriber activated inside the month gets a
//   prorated first invoice (activation day to month end), and one activated in the previous
//   month after that month's run gets its prorated first invoice now (catch-up);
// - quarterly and yearly plans: anniversary periods from the activation date (month-end
//   anniversaries clamp: Jan 31 -> Apr 30 -> Jul 31), billed by the run of the month the
//   period starts in; a first period that started in the previous month is caught up.
// The activation date is the Karachi business date of `subscribers.created_at` (the only
// activation timestamp the schema has). Prepaid plans are charged at recharge and expire
// instead (dealers.ts, `subscribers.expires_at`); the run leaves them alone.
// Documents come from the pure builder once per distinct (plan, city, period, proration)
// template, then set-based SQL writes a chunk of subscribers per transaction. Resumable:
// the run row keeps a cursor (last subscriber id done); the unique (subscriber,
// period_start, kind) key makes a redone chunk harmless.
import {
  type BillingPlan,
  type Period,
  addDays,
  compareDates,
  formatDate,
  lastDay,
  periodAt,
  periodContaining,
  toDate,
} from "@isp/billing/cycles";
import { buildInvoice, type Charge, type InvoiceDocument, invoiceLedgerTransaction, prorationCharges, subscriptionCharge } from "@isp/billing/invoice";
import { prorateActivation } from "@isp/billing/proration";
import {
  type BillableSubscriber,
  type InvoiceAssignment,
  type InvoiceTemplate,
  billAssignedChunk,
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
const cycles: Readonly<Record<string, BillingPlan>> = { monthly, quarterly: { kind: "quarterly" }, yearly: { kind: "yearly" } };
/** Postpaid statuses that are billed; prepaid plans are billed at recharge. */
const billableStatuses = ["active", "suspended"] as const;
const templateSubscriber = "__subscriber__";

export class BillingRunBusyError extends Error {
  override name = "BillingRunBusyError";
}

type PlanRow = Awaited<ReturnType<typeof planRows>>[number];

/**
 * Which documents the run of `month` writes for these subscribers (pure; exported for tests).
 * Templates are shared by every subscriber with the same plan, city, period and proration.
 */
export function assignInvoices(
  subs: readonly BillableSubscriber[],
  ctx: { month: Period; plans: ReadonlyMap<number, PlanRow>; template: (plan: PlanRow, city: string, period: Period, activatedOn: string | null) => number },
): InvoiceAssignment[] {
  const { month } = ctx;
  const previous = periodAt(monthly, addDays(month.start, -1), 0);
  // ISO dates compare as strings; the common case (monthly, activated before the month)
  // takes no date arithmetic (the re-run of 100k subscribers is mostly this loop).
  const monthStart = formatDate(month.start);
  const monthEnd = formatDate(month.end);
  const monthLast = formatDate(lastDay(month));
  const previousStart = formatDate(previous.start);
  const fullMonth = new Map<string, number>();
  const out: InvoiceAssignment[] = [];
  const add = (sub: BillableSubscriber, plan: PlanRow, period: Period, activatedOn: string | null) =>
    out.push({ subscriberId: sub.id, template: ctx.template(plan, sub.city, period, activatedOn), periodStart: formatDate(period.start), periodEnd: formatDate(lastDay(period)) });
  for (const sub of subs) {
    const plan = ctx.plans.get(sub.planId);
    const cycle = plan ? cycles[plan.billingCycle] : undefined;
    if (!plan || !cycle) continue;
    const on = sub.activatedOn;
    if (on >= monthEnd) continue; // not active yet in this month
    const firstInPrevious = on >= previousStart && on < monthStart;
    if (cycle.kind === "monthly_fixed_day") {
      // Catch-up: activated last month after its run; its prorated first invoice (skipped by
      // the unique key if that run did bill it).
      if (firstInPrevious) add(sub, plan, previous, on > previousStart ? on : null);
      if (sub.periodBilled) {
        // Billed by an earlier attempt of this run (or an earlier run): nothing to send.
      } else if (on > monthStart) {
        add(sub, plan, month, on);
      } else {
        const key = `${plan.id}|${sub.city}`;
        let t = fullMonth.get(key);
        if (t === undefined) fullMonth.set(key, (t = ctx.template(plan, sub.city, month, null)));
        out.push({ subscriberId: sub.id, template: t, periodStart: monthStart, periodEnd: monthLast });
      }
    } else {
      // Anniversary cycles start on the activation date: never prorated.
      const activated = toDate(on);
      if (firstInPrevious) add(sub, plan, periodAt(cycle, activated, 0), null);
      const current = periodContaining(cycle, activated, lastDay(month));
      if (compareDates(current.start, month.start) >= 0) add(sub, plan, current, null);
    }
  }
  return out;
}

/** A built invoice's lines as the invoice_lines rows store them (tax per line = total - net). */
export function storedInvoiceLines(doc: InvoiceDocument) {
  return doc.lines.map((l, i) => ({
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
  }));
}

/** Documents created by one run above which the run refreshes the invoice tables' statistics. */
const analyzeAfterCreated = 1000;

export async function runBilling(pool: pg.Pool, opts: BillingRunOptions): Promise<BillingRunResult> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const started = performance.now();
  const month = periodContaining(monthly, "2000-01-01", opts.periodStart);
  const periodStart = formatDate(month.start);
  if (periodStart !== opts.periodStart) throw new RangeError(`periodStart ${opts.periodStart} is not the first day of a month`);
  const issuedOn = periodStart;
  const dueOn = formatDate(addDays(toDate(issuedOn), cfg.dueDays));
  const series = `${cfg.seriesPrefix}-${issuedOn.slice(0, 4)}`;

  const session = await pool.connect();
  try {
    if (!(await lockRun(session, "billing", periodStart))) throw new BillingRunBusyError(`a billing run for ${periodStart} is already running`);
    try {
      const plans = new Map((await planRows(session)).filter((p) => cycles[p.billingCycle] !== undefined).map((p) => [p.id, p]));
      const filter = { statuses: billableStatuses, planIds: [...plans.keys()] };
      const templates: InvoiceTemplate[] = [];
      const templateIndex = new Map<string, number>();
      const warned = new Set<string>();
      // Built on first use and kept for the whole run (bounded by plans x cities x periods
      // starting in two months x activation days).
      const template = (plan: PlanRow, city: string, period: Period, activatedOn: string | null): number => {
        const key = `${plan.id}|${city}|${formatDate(period.start)}|${formatDate(period.end)}|${activatedOn ?? ""}`;
        const known = templateIndex.get(key);
        if (known !== undefined) return known;
        const region = cfg.regionOfCity[city];
        if (region === undefined && !warned.has(city)) {
          warned.add(city);
          opts.log?.warn("city has no tax region; only region-less tax rules apply", { city });
        }
        const priced = { name: plan.name, pricePaisa: plan.pricePaisa };
        const charges: Charge[] = activatedOn === null ? [subscriptionCharge(priced, period)] : prorationCharges(prorateActivation({ period, plan: priced, activatedOn }));
        const doc = buildInvoice({
          invoiceId: `${templateSubscriber}:${formatDate(period.start)}`,
          subscriberId: templateSubscriber,
          region: region ?? "unknown",
          issuedOn,
          dueOn,
          charges,
          taxRules: cfg.taxRules,
        });
        const tx = invoiceLedgerTransaction(doc);
        templates.push({
          planId: plan.id,
          city,
          kind: doc.kind,
          netPaisa: doc.totals.netPaisa,
          taxPaisa: doc.totals.taxPaisa,
          totalPaisa: doc.totals.totalPaisa,
          lines: storedInvoiceLines(doc),
          entries: (tx?.entries ?? []).map((e) => ({
            account: e.account === `receivable:${templateSubscriber}` ? "receivable" : e.account,
            amountPaisa: e.debitPaisa ?? -e.creditPaisa,
          })),
        });
        templateIndex.set(key, templates.length - 1);
        return templates.length - 1;
      };

      const { run, resumed } = await startOrResumeRun(session, "billing", periodStart);
      const total = await countBillable(session, filter);
      // A requested run is an existing row too; it only resumes once it has a cursor.
      opts.log?.info(resumed && run.cursor > 0 ? "billing run resumed" : "billing run started", { runId: run.id, periodStart, cursor: run.cursor, total });
      let { cursor, processed, created } = run;
      try {
        for (;;) {
          const r = await billAssignedChunk(pool, {
            ...filter,
            runId: run.id,
            periodStart,
            series,
            issuedOn,
            dueOn,
            cursor,
            chunkSize: cfg.chunkSize,
            // Only the templates this chunk uses are sent (indices remapped).
            assign: (subs) => {
              const assignments = assignInvoices(subs, { month, plans, template });
              const local = new Map<number, number>();
              const used: InvoiceTemplate[] = [];
              for (const a of assignments) {
                let i = local.get(a.template);
                if (i === undefined) {
                  local.set(a.template, (i = used.length));
                  used.push(templates[a.template]!);
                }
                a.template = i;
              }
              return { templates: used, assignments };
            },
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
      // A run that wrote many documents changes the invoices tables' size by orders of
      // magnitude: refresh their statistics now rather than when autovacuum gets to it, so
      // the next run's "already billed?" probes and the dunning run get index plans.
      if (created - run.created >= analyzeAfterCreated) await session.query("ANALYZE invoices, invoice_lines, ledger_transactions, ledger_entries");
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
