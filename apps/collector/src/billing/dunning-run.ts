// The daily dunning run: every subscriber with something owed (or a restricted access to
// lift) is evaluated with the pure `evaluateDunning`; the new state, the action keys and
// their outbox rows are written per chunk in one transaction, by one statement
// (`writeDunningBatch`). Action keys are unique in the database (ON CONFLICT DO NOTHING),
// so a re-run (or a run overlapping a payment) emits nothing twice.
import { type Credit, type Debit, settle } from "@isp/billing/allocation";
import { businessDate, formatDate } from "@isp/billing/cycles";
import { evaluateLateFee } from "@isp/billing/late-fee";
import {
  type AccountHistory,
  type LateFeeInput,
  finishRun,
  insertLateFees,
  lateFeeState,
  loadAccountHistories,
  lockRun,
  setInvoiceStatuses,
  startOrResumeRun,
  subscriberIdsAfter,
  unlockRun,
  withTransaction,
  writeDunningBatch,
} from "@isp/db/billing-store";
import type pg from "pg";
import type { Logger } from "../log";
import { evaluateAccount } from "./account";
import { type BillingConfig, defaultBillingConfig } from "./config";

export interface DunningRunResult {
  runId: string;
  evaluated: number;
  actions: number;
  enforcement: number;
  notifications: number;
  seconds: number;
  /** Late-fee documents charged by this run. */
  lateFees: number;
  /** Where the time went (seconds, summed over parallel slices): reading histories, the pure evaluation, writing. */
  stages: { load: number; evaluate: number; write: number };
}

type Stages = { load: number; evaluate: number; write: number };

/**
 * The late-fee step of a slice (inside its transaction, rows locked): for every open invoice
 * of a plan with a rule, `evaluateLateFee` on what `settle` leaves outstanding; charged fees
 * become documents + `late_fee:` ledger rows and join the history the dunning evaluation sees.
 */
async function chargeLateFees(c: pg.PoolClient, histories: AccountHistory[], cfg: BillingConfig, now: Date, day: string): Promise<number> {
  const withRule = histories.filter((h) => h.billingCycle !== "prepaid_days" && h.documents.length > 0 && cfg.lateFeeFor(h.planId) !== null);
  if (withRule.length === 0) return 0;
  const state = await lateFeeState(c, withRule.map((h) => h.subscriberId), cfg.lateFeeSeriesPrefix);
  const fees: LateFeeInput[] = [];
  for (const h of withRule) {
    const rule = cfg.lateFeeFor(h.planId)!;
    const debits: Debit[] = [];
    const credits: Credit[] = [];
    for (const d of h.documents) {
      if (d.kind === "invoice") debits.push({ id: d.key, dueOn: d.dueOn ?? d.issuedOn, amountPaisa: d.totalPaisa });
      else credits.push({ id: `credit_note:${d.key}`, on: d.issuedOn, amountPaisa: -d.totalPaisa });
    }
    for (const p of h.payments) credits.push({ id: `payment:${p.receiptNo}`, on: p.on, amountPaisa: p.amountPaisa, reversed: p.reversed });
    for (const d of settle(debits, credits).debits) {
      const end = state.periodEnd.get(d.id);
      if (state.feeDocuments.has(d.id) || end === undefined || d.outstandingPaisa <= 0) continue;
      const decision = evaluateLateFee(
        rule,
        { invoiceId: d.id, subscriberId: String(h.subscriberId), dueOn: d.dueOn, outstandingPaisa: d.outstandingPaisa, lateFeeCharged: state.charged.has(d.id) },
        now,
      );
      if (!decision.charge) continue;
      fees.push({
        subscriberId: h.subscriberId,
        invoicePeriodStart: d.id.slice(d.id.indexOf(":") + 1),
        invoicePeriodEnd: end,
        amountPaisa: decision.amountPaisa,
        description: `Late fee: invoice for ${d.id.slice(d.id.indexOf(":") + 1)} unpaid ${decision.daysOverdue} days after ${d.dueOn}`,
        entries: decision.transaction.entries.map((e) => ({
          account: e.account === `receivable:${h.subscriberId}` ? "receivable" : e.account,
          amountPaisa: e.debitPaisa ?? -e.creditPaisa,
        })),
      });
    }
  }
  if (fees.length === 0) return 0;
  const { charged } = await insertLateFees(c, { series: `${cfg.lateFeeSeriesPrefix}-${day.slice(0, 4)}`, issuedOn: day, dueOn: day, fees });
  const byKey = new Map(fees.map((f) => [`${f.subscriberId}:${f.invoicePeriodStart}`, f]));
  const historyOf = new Map(histories.map((h) => [h.subscriberId, h]));
  for (const x of charged) {
    const f = byKey.get(`${x.subscriberId}:${x.invoicePeriodStart}`)!;
    historyOf.get(f.subscriberId)?.documents.push({ key: `${f.subscriberId}:${f.invoicePeriodEnd}`, kind: "invoice", issuedOn: day, dueOn: day, totalPaisa: f.amountPaisa, status: "open" });
  }
  return charged.length;
}

async function dunningSlice(pool: pg.Pool, ids: number[], cfg: BillingConfig, now: Date, day: string, stages: Stages) {
  const lap = (stage: keyof Stages, since: number): number => {
    const t = performance.now();
    stages[stage] += (t - since) / 1000;
    return t;
  };
  return withTransaction(pool, async (c) => {
    let t = performance.now();
    // Row locks serialise with payments for the same subscribers.
    const histories = await loadAccountHistories(c, ids, { forUpdate: true });
    const lateFees = await chargeLateFees(c, histories, cfg, now, day);
    t = lap("load", t);
    const evals = histories.filter((h) => h.documents.length > 0 || h.record !== null).map((h) => evaluateAccount(h, cfg, now));
    t = lap("evaluate", t);
    await setInvoiceStatuses(c, evals.flatMap((e) => e.invoiceStatuses));
    const w = await writeDunningBatch(c, evals.flatMap((e) => (e.dunning ? [e.dunning] : [])));
    lap("write", t);
    return { evaluated: evals.length, lateFees, ...w };
  });
}

export async function runDunning(
  pool: pg.Pool,
  opts: {
    now: Date;
    config?: Partial<BillingConfig>;
    log?: Logger;
    /** Chunks of `chunkSize` subscribers in flight at once, each its own transaction (default 2, at most 8). */
    parallel?: number;
    onProgress?: (p: { runId: string; cursor: number; actions: number }) => void;
  },
): Promise<DunningRunResult> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const started = performance.now();
  const day = formatDate(businessDate(opts.now));
  const session = await pool.connect();
  const totals = { evaluated: 0, actions: 0, enforcement: 0, notifications: 0, lateFees: 0 };
  const stages: Stages = { load: 0, evaluate: 0, write: 0 };
  const parallel = Math.max(1, Math.min(8, opts.parallel ?? 2));
  try {
    if (!(await lockRun(session, "dunning", day))) throw new Error(`a dunning run for ${day} is already running`);
    try {
      const { run } = await startOrResumeRun(session, "dunning", day);
      // `parallel` workers each take the next chunk of ids as soon as they are free (no
      // waiting for the slowest slice of a step); chunks are numbered in id order and the
      // cursor moves past a chunk only when it and every chunk before it committed, so a
      // crash redoes at most the chunks in flight (harmless: unique action keys).
      let assignedUpTo = run.cursor;
      let fetching: Promise<number[]> = Promise.resolve([]);
      const nextChunk = (): Promise<number[]> =>
        (fetching = fetching.then(async () => {
          const ids = await subscriberIdsAfter(session, assignedUpTo, cfg.chunkSize);
          if (ids.length > 0) assignedUpTo = ids[ids.length - 1]!;
          return ids;
        }));
      let issued = 0;
      let committedSeq = 0;
      let stop = false;
      const finished = new Map<number, { last: number; n: number; actions: number }>();
      let progress: Promise<void> = Promise.resolve();
      const advance = () =>
        (progress = progress.then(async () => {
          let moved: { last: number; n: number; actions: number } | null = null;
          let n = 0;
          let actions = 0;
          for (let f = finished.get(committedSeq); f; f = finished.get(committedSeq)) {
            finished.delete(committedSeq++);
            moved = f;
            n += f.n;
            actions += f.actions;
          }
          if (!moved) return;
          await session.query(`UPDATE billing_runs SET cursor = $2, processed = processed + $3, created = created + $4 WHERE id = $1`, [run.id, moved.last, n, actions]);
          opts.onProgress?.({ runId: run.id, cursor: moved.last, actions: totals.actions });
        }));
      const worker = async () => {
        while (!stop) {
          const ids = await nextChunk();
          if (ids.length === 0) return;
          const seq = issued++;
          const r = await dunningSlice(pool, ids, cfg, opts.now, day, stages);
          totals.evaluated += r.evaluated;
          totals.actions += r.actions;
          totals.enforcement += r.enforcement;
          totals.notifications += r.notifications;
          totals.lateFees += r.lateFees;
          finished.set(seq, { last: ids[ids.length - 1]!, n: ids.length, actions: r.actions });
          await advance();
        }
      };
      const outcomes = await Promise.allSettled(
        Array.from({ length: parallel }, () =>
          worker().catch((err: unknown) => {
            stop = true;
            throw err;
          }),
        ),
      );
      const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
      if (failure) {
        const err: unknown = failure.reason;
        await progress.catch(() => undefined);
        await finishRun(session, run.id, "failed", err instanceof Error ? err.message : String(err));
        throw err;
      }
      await finishRun(session, run.id, "completed");
      const seconds = (performance.now() - started) / 1000;
      opts.log?.info("dunning run completed", { runId: run.id, day, ...totals, seconds });
      return { runId: run.id, ...totals, seconds, stages };
    } finally {
      await unlockRun(session, "dunning", day);
    }
  } finally {
    session.release();
  }
}
