// Puts the billing and dunning runs on a job queue (pg-boss 10, schema `pgboss`, created
// by pg-boss itself). Cron schedules send the periodic jobs; on-demand runs arrive as
// billing_runs rows with status 'requested' (written by the web app, which cannot import
// the collector) plus a NOTIFY on `billing_run_requested`. Duplicates are harmless on three
// levels: one open request per (kind, period) in the table, one queued job per singleton
// key in a `stately` queue, and the runs' own advisory lock and unique keys.
import { businessDate, formatDate } from "@isp/billing/cycles";
import PgBoss from "pg-boss";
import type pg from "pg";
import type { Logger } from "../log";
import { createPgListener, type PgListener } from "../services/pg-listener";
import { runAdjustments } from "./adjustments";
import { runBilling } from "./billing-run";
import type { BillingConfig } from "./config";
import { runDunning } from "./dunning-run";

export type RunKind = "billing" | "dunning";

/** Live event `billing:progress` (docs/architecture.md, live protocol). */
export interface BillingProgressEvent {
  runId: string;
  kind: RunKind;
  /** Billing: subscribers processed. Dunning: the subscriber-id cursor (ids are processed in order). */
  done: number;
  /** Billing: billable subscribers. Dunning: the highest subscriber id when the run started. */
  total: number;
  status: "running" | "completed" | "failed";
}

export interface BillingSchedulerConfig {
  databaseUrl: string;
  /** Cron expressions in `tz`; null = no periodic job of that kind (on-demand still works). */
  billingCron: string | null;
  dunningCron: string | null;
  /**
   * Proration of plan changes and terminations (`runAdjustments`); null = only with the
   * billing and dunning runs. Default every 5 minutes.
   */
  adjustmentsCron?: string | null;
  tz?: string;
  /** Attempts after the first failure (bounded; a run resumes from its cursor). Default 3. */
  retryLimit?: number;
  retryDelayS?: number;
  pollingIntervalS?: number;
  billing?: Partial<BillingConfig>;
}

export interface BillingScheduler {
  start(): Promise<void>;
  /** Waits for a job in progress up to `timeoutMs`; an interrupted run resumes at the next start. */
  stop(timeoutMs: number): Promise<void>;
  /** Turns open requests into jobs (also done on NOTIFY, on reconnect and after each job). */
  sweepRequests(): Promise<number>;
}

export const requestChannel = "billing_run_requested";
const queues: Record<RunKind, string> = { billing: "billing-run", dunning: "dunning-run" };
const adjustmentsQueue = "billing-adjustments";

interface JobData {
  period?: string;
  /** Sent for a `requested` row (not by cron): skipped if no such row is left. */
  requested?: boolean;
}

export function createBillingScheduler(deps: {
  pool: pg.Pool;
  log: Logger;
  emit: (event: BillingProgressEvent) => void;
  config: BillingSchedulerConfig;
}): BillingScheduler {
  const { pool, log, config } = deps;
  // A throw from onProgress would abort the run: a broken display must not stop billing.
  const emit = (event: BillingProgressEvent) => {
    try {
      deps.emit(event);
    } catch (err) {
      log.warn("billing progress event failed", { error: (err as Error).message });
    }
  };
  let boss: PgBoss | null = null;
  let listener: PgListener | null = null;
  let sweeping: Promise<number> | null = null;
  let sweepAgain = false;

  const sweep = async (): Promise<number> => {
    const b = boss;
    if (!b) return 0;
    const r = await pool.query<{ kind: RunKind; period: string }>(
      `SELECT kind, to_char(period_start, 'YYYY-MM-DD') AS period FROM billing_runs WHERE status = 'requested' AND kind IN ('billing', 'dunning') ORDER BY id LIMIT 100`,
    );
    let sent = 0;
    for (const { kind, period } of r.rows) {
      // null when a job for this period is already queued: that job takes the request.
      const id = await b.send(queues[kind], { period, requested: true } satisfies JobData, { singletonKey: `${kind}:${period}` });
      if (id) sent++;
    }
    if (sent > 0) log.info("on-demand runs queued", { sent });
    return sent;
  };
  // One sweep at a time; NOTIFYs during a sweep collapse into one more sweep after it.
  const sweepRequests = (): Promise<number> => {
    if (sweeping) {
      sweepAgain = true;
      return sweeping;
    }
    sweeping = (async () => {
      let sent = 0;
      do {
        sweepAgain = false;
        sent += await sweep();
      } while (sweepAgain);
      return sent;
    })().finally(() => (sweeping = null));
    return sweeping;
  };
  const sweepSoon = () => void sweepRequests().catch((err: Error) => log.warn("billing request sweep failed", { error: err.message }));

  // A requested row's started_at is the request time; the run starts now. False when a
  // request job finds its row already taken by an earlier job (a sweep can send a second
  // job between the first one's fetch and its run taking the row).
  const markStarted = async (kind: RunKind, period: string, data: JobData): Promise<boolean> => {
    const r = await pool.query(`UPDATE billing_runs SET started_at = now() WHERE kind = $1 AND period_start = $2 AND status = 'requested'`, [kind, period]);
    return !data.requested || (r.rowCount ?? 0) > 0;
  };

  // Plan changes and terminations since the last pass (idempotent per action id).
  const adjustmentsJob = async () => {
    await runAdjustments(pool, { config: config.billing, log });
  };
  // Inside the billing / dunning jobs a failed pass is logged, not fatal: the cron job retries it.
  const adjustmentsAlongside = async () => {
    await adjustmentsJob().catch((err: Error) => log.warn("proration pass failed; the next pass retries", { error: err.message }));
  };

  const billingJob = async (data: JobData) => {
    const today = formatDate(businessDate(new Date()));
    const periodStart = data.period ?? `${today.slice(0, 8)}01`;
    if (!(await markStarted("billing", periodStart, data))) return log.info("billing request already answered", { periodStart });
    let last: BillingProgressEvent | null = null;
    try {
      await runBilling(pool, {
        periodStart,
        config: config.billing,
        log,
        onProgress: (p) => {
          last = { runId: p.runId, kind: "billing", done: p.processed, total: p.total, status: p.done ? "completed" : "running" };
          emit(last);
        },
      });
    } catch (err) {
      if (last) emit({ ...(last as BillingProgressEvent), status: "failed" });
      throw err;
    }
    // Changes made while the period was being billed are prorated against its invoices now.
    await adjustmentsAlongside();
  };

  const dunningJob = async (data: JobData) => {
    const now = new Date();
    const day = formatDate(businessDate(now));
    if (!(await markStarted("dunning", data.period ?? day, data))) return log.info("dunning request already answered", { day });
    // Credits and charges from plan changes and terminations are in before balances are judged.
    await adjustmentsAlongside();
    const max = await pool.query<{ max: number | null }>(`SELECT max(id) AS max FROM subscribers`);
    const total = max.rows[0]?.max ?? 0;
    let last: BillingProgressEvent | null = null;
    try {
      const r = await runDunning(pool, {
        now,
        config: config.billing,
        log,
        onProgress: (p) => {
          last = { runId: p.runId, kind: "dunning", done: p.cursor, total, status: "running" };
          emit(last);
        },
      });
      emit({ runId: r.runId, kind: "dunning", done: total, total, status: "completed" });
    } catch (err) {
      if (last) emit({ ...(last as BillingProgressEvent), status: "failed" });
      throw err;
    }
    // Dunning always runs for today; a request for an earlier day (made just before
    // midnight) is answered by this run.
    await pool.query(
      `UPDATE billing_runs SET status = 'failed', error = $2 WHERE kind = 'dunning' AND status = 'requested' AND period_start < $1`,
      [day, `superseded by the dunning run of ${day}`],
    );
    if (data.period && data.period !== day) log.info("dunning request answered by today's run", { requested: data.period, day });
  };

  const worker = (kind: RunKind, run: (data: JobData) => Promise<void>) => async (jobs: PgBoss.Job<JobData>[]) => {
    for (const job of jobs) {
      log.info(`${kind} job started`, { jobId: job.id, period: job.data?.period ?? "current" });
      try {
        await run(job.data ?? {});
      } finally {
        sweepSoon();
      }
    }
  };

  const setUp = async (b: PgBoss) => {
    const retry = { retryLimit: config.retryLimit ?? 3, retryDelay: config.retryDelayS ?? 60, retryBackoff: true };
    for (const name of [...Object.values(queues), adjustmentsQueue]) {
      // stately: at most one queued and one active job per singleton key.
      if (!(await b.getQueue(name))) await b.createQueue(name, { name, policy: "stately", ...retry, expireInHours: 6 });
    }
    const tz = config.tz ?? "Asia/Karachi";
    for (const [kind, cron] of [
      ["billing", config.billingCron],
      ["dunning", config.dunningCron],
    ] as const) {
      if (cron) await b.schedule(queues[kind], cron, {}, { tz, singletonKey: `${kind}:cron`, ...retry });
      else await b.unschedule(queues[kind]);
    }
    const adjustmentsCron = config.adjustmentsCron === undefined ? "*/5 * * * *" : config.adjustmentsCron;
    if (adjustmentsCron) await b.schedule(adjustmentsQueue, adjustmentsCron, {}, { tz, singletonKey: "adjustments:cron", ...retry });
    else await b.unschedule(adjustmentsQueue);
    const polling = { batchSize: 1, pollingIntervalSeconds: config.pollingIntervalS ?? 2 };
    await b.work<JobData>(queues.billing, polling, worker("billing", billingJob));
    await b.work<JobData>(queues.dunning, polling, worker("dunning", dunningJob));
    await b.work(adjustmentsQueue, polling, async () => {
      await adjustmentsJob();
    });

    listener = createPgListener({ url: config.databaseUrl, channels: [requestChannel], onNotify: sweepSoon, onReconnect: sweepSoon, log });
    await listener.start();
    // Requests made while the collector was down.
    sweepSoon();
  };

  return {
    async start() {
      const b = new PgBoss({
        connectionString: config.databaseUrl,
        schema: "pgboss",
        max: 2,
        application_name: "isp-collector-jobs",
        // Finished jobs are history in billing_runs; pg-boss keeps them only a week.
        deleteAfterDays: 7,
      });
      b.on("error", (err: Error) => log.warn("pg-boss error", { error: err.message }));
      await b.start();
      boss = b;
      try {
        await setUp(b);
      } catch (err) {
        // Half set up (a bad cron expression, say): nothing of the queue keeps running.
        boss = null;
        await b.stop({ graceful: false, wait: true, timeout: 1000 }).catch(() => undefined);
        throw err;
      }
    },

    async stop(timeoutMs) {
      await listener?.stop();
      listener = null;
      await sweeping?.catch(() => undefined);
      const b = boss;
      boss = null;
      if (!b) return;
      // `wait`: resolves after the job in progress finished (or the timeout failed it) and the pool closed.
      await b.stop({ graceful: true, wait: true, timeout: Math.max(1000, timeoutMs) });
    },

    sweepRequests,
  };
}
