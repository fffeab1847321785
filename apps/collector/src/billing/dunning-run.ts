// The daily dunning run: every subscriber with something owed (or a restricted access to
// lift) is evaluated with the pure `evaluateDunning`; the new state, the action keys and
// their outbox rows are written per chunk in one transaction. Action keys are unique in
// the database, so a re-run (or a run overlapping a payment) emits nothing twice.
import { businessDate, formatDate } from "@isp/billing/cycles";
import {
  finishRun,
  loadAccountHistories,
  lockRun,
  setInvoiceStatuses,
  startOrResumeRun,
  subscriberIdsAfter,
  unlockRun,
  withTransaction,
  writeDunning,
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
  /** Where the time went (seconds): reading histories, the pure evaluation, writing. */
  stages: { load: number; evaluate: number; write: number };
}

type Stages = { load: number; evaluate: number; write: number };

async function dunningSlice(pool: pg.Pool, ids: number[], cfg: BillingConfig, now: Date, stages: Stages) {
  const lap = (stage: keyof Stages, since: number): number => {
    const t = performance.now();
    stages[stage] += (t - since) / 1000;
    return t;
  };
  return withTransaction(pool, async (c) => {
    let t = performance.now();
    // Row locks serialise with payments for the same subscribers.
    const histories = await loadAccountHistories(c, ids, { forUpdate: true });
    t = lap("load", t);
    const evals = histories.filter((h) => h.documents.length > 0 || h.record !== null).map((h) => evaluateAccount(h, cfg, now));
    t = lap("evaluate", t);
    await setInvoiceStatuses(c, evals.flatMap((e) => e.invoiceStatuses));
    const w = await writeDunning(c, evals.flatMap((e) => (e.dunning ? [e.dunning] : [])));
    lap("write", t);
    return { evaluated: evals.length, ...w };
  });
}

export async function runDunning(
  pool: pg.Pool,
  opts: {
    now: Date;
    config?: Partial<BillingConfig>;
    log?: Logger;
    /** Slices of `chunkSize` subscribers written at once (default 2, at most 8). */
    parallel?: number;
    onProgress?: (p: { runId: string; cursor: number; actions: number }) => void;
  },
): Promise<DunningRunResult> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  const started = performance.now();
  const day = formatDate(businessDate(opts.now));
  const session = await pool.connect();
  const totals = { evaluated: 0, actions: 0, enforcement: 0, notifications: 0 };
  const stages: Stages = { load: 0, evaluate: 0, write: 0 };
  const parallel = Math.max(1, Math.min(8, opts.parallel ?? 2));
  try {
    if (!(await lockRun(session, "dunning", day))) throw new Error(`a dunning run for ${day} is already running`);
    try {
      const { run } = await startOrResumeRun(session, "dunning", day);
      let cursor = run.cursor;
      try {
        for (;;) {
          const ids = await subscriberIdsAfter(session, cursor, cfg.chunkSize * parallel);
          if (ids.length === 0) break;
          const last = ids[ids.length - 1]!;
          // Disjoint slices in parallel transactions (PostgreSQL works on one core per
          // connection). The cursor moves only after every slice committed; a crash in
          // between redoes committed slices, which the unique action keys make harmless.
          const slices = Array.from({ length: parallel }, (_, i) => ids.slice(i * cfg.chunkSize, (i + 1) * cfg.chunkSize)).filter((x) => x.length > 0);
          const results = await Promise.all(slices.map((slice) => dunningSlice(pool, slice, cfg, opts.now, stages)));
          await session.query(`UPDATE billing_runs SET cursor = $2, processed = processed + $3, created = created + $4 WHERE id = $1`, [
            run.id,
            last,
            ids.length,
            results.reduce((n, r) => n + r.actions, 0),
          ]);
          for (const r of results) {
            totals.evaluated += r.evaluated;
            totals.actions += r.actions;
            totals.enforcement += r.enforcement;
            totals.notifications += r.notifications;
          }
          cursor = last;
          opts.onProgress?.({ runId: run.id, cursor, actions: totals.actions });
        }
      } catch (err) {
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
