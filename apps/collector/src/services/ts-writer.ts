// Bounded batched writer. Callers enqueue items and await the returned promise: it
// resolves only once the batch holding those items is committed, so an
// Accounting-Response means "durable". When the queue is full, enqueue rejects at once
// (QueueFullError): the accounting service then spools to disk (acct-spool.ts), or sends
// no ACK when the spool is full too, so the router retransmits. session-store.ts batches
// whole accounting records with it.

import type { AccountingRecordRow, UsageDeltaRow } from "@isp/db/timeseries";

export type AccountingRow = AccountingRecordRow;
export type UsageRow = UsageDeltaRow;

export interface TsWriterConfig {
  /** Flush a partial batch this long after its first row arrived (unless groupCommit). */
  flushIntervalMs: number;
  /**
   * Group commit: no timer. A batch starts as soon as the previous one settled (or, when
   * idle, on the next turn of the event loop, so the datagrams of one socket read share
   * it); whatever arrives while a batch is written forms the next one. Batches grow with
   * the load, up to batchRowsMax, and an idle writer adds no latency.
   */
  groupCommit: boolean;
  /**
   * With groupCommit: the next batch may start (take its rows and call the sink) once the
   * running one calls `overlap()` (e.g. just before its COMMIT), instead of after it settled.
   * The sink gets the previous batch's outcome (`previous`, rejects if that batch failed)
   * and must not commit before it, nor at all if it failed; batches settle in order.
   */
  pipeline: boolean;
  /** Flush as soon as this many rows are queued; also the most rows one flush writes. */
  batchRowsMax: number;
  /** Rows queued or being written; beyond this enqueue rejects (backpressure). */
  queueRowsMax: number;
}

export const defaultTsWriterConfig: TsWriterConfig = { flushIntervalMs: 50, groupCommit: false, pipeline: false, batchRowsMax: 5_000, queueRowsMax: 50_000 };

/** What a pipelined sink gets besides its items (BatchWriter with `pipeline`). */
export interface BatchContext {
  /** Settles when the previous batch did: resolves if it committed, rejects if it failed. */
  previous: Promise<void>;
  /** The next batch may start now (it will still wait for this one's outcome). */
  overlap: () => void;
}

/** A pipelined batch fails when the batch before it failed, so no later record overtakes an earlier one. */
export class PreviousBatchFailedError extends Error {
  constructor(cause: unknown) {
    super(`previous batch failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "PreviousBatchFailedError";
  }
}

export class QueueFullError extends Error {
  constructor(public readonly queuedRows: number) {
    super(`time-series queue full (${queuedRows} rows)`);
    this.name = "QueueFullError";
  }
}

export class WriterStoppedError extends Error {
  constructor() {
    super("time-series writer is stopped");
    this.name = "WriterStoppedError";
  }
}

interface Pending<T> {
  rows: T;
  count: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface TsWriterCounters {
  enqueuedRows: number;
  committedRows: number;
  rejectedFull: number;
  flushes: number;
  flushFailures: number;
}

export interface BatchWriter<T> {
  enqueue(rows: T): Promise<void>;
  /** Flushes what is queued now; resolves when it (and any flush before it) is done. */
  flush(): Promise<void>;
  /** Stops accepting rows and drains the queue. */
  stop(): Promise<void>;
  readonly queuedRows: number;
  readonly counters: TsWriterCounters;
}

export function createBatchWriter<T>(sink: (items: T[], ctx: BatchContext) => Promise<void>, size: (item: T) => number, config: Partial<TsWriterConfig> = {}): BatchWriter<T> {
  const cfg = { ...defaultTsWriterConfig, ...config };
  if (cfg.batchRowsMax < 1 || cfg.queueRowsMax < cfg.batchRowsMax) {
    throw new Error("ts-writer: need 1 <= batchRowsMax <= queueRowsMax");
  }
  if (cfg.pipeline && !cfg.groupCommit) throw new Error("ts-writer: pipeline needs groupCommit");
  const queue: Pending<T>[] = [];
  let queued = 0; // rows in `queue`
  let inFlight = 0; // rows in the batch being written
  let timer: NodeJS.Timeout | null = null;
  let kicked = false; // groupCommit: a setImmediate flush is pending
  let writing = false; // a flush loop is running (groupCommit: it takes what arrives meanwhile)
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const counters: TsWriterCounters = { enqueuedRows: 0, committedRows: 0, rejectedFull: 0, flushes: 0, flushFailures: 0 };

  const takeBatch = (): Pending<T>[] => {
    // An item's rows stay together (one promise = one commit); a single item larger than
    // batchRowsMax still goes alone rather than being stuck forever.
    const items: Pending<T>[] = [];
    let rows = 0;
    while (queue.length > 0) {
      const next = queue[0]!;
      if (items.length > 0 && rows + next.count > cfg.batchRowsMax) break;
      queue.shift();
      items.push(next);
      rows += next.count;
    }
    queued -= rows;
    inFlight += rows;
    return items;
  };

  const rowsOf = (items: Pending<T>[]) => items.reduce((n, i) => n + i.count, 0);
  // Pipeline: the outcome of the last batch started (resolves/rejects with it), and whether it settled.
  let previous: Promise<void> = Promise.resolve();
  let lastSettled: Promise<void> | null = null;
  let arrival: (() => void) | null = null;

  /** Starts one batch; resolves when the next may start (overlap) or this one settled. */
  const startPipelined = async (): Promise<void> => {
    const items = takeBatch();
    if (items.length === 0) return;
    const rows = rowsOf(items);
    counters.flushes++;
    let overlap!: () => void;
    const mayOverlap = new Promise<void>((r) => (overlap = r));
    // Only a batch begun while the previous one was still in flight depends on it; once
    // that one settled (its records acknowledged or handed back), the next starts clean.
    const before = lastSettled ? previous : Promise.resolve();
    const outcome = sink(
      items.map((i) => i.rows),
      { previous: before, overlap },
    );
    // Items settle in batch order: this batch's after the previous batch's.
    const settled = outcome
      .then(
        async () => {
          await before.catch(() => undefined);
          counters.committedRows += rows;
          for (const item of items) item.resolve();
        },
        async (err: unknown) => {
          await before.catch(() => undefined);
          counters.flushFailures++;
          for (const item of items) item.reject(err);
        },
      )
      .finally(() => {
        inFlight -= rows;
      });
    previous = settled.then(() => outcome);
    previous.catch(() => undefined); // observed by the next batch's sink, or by nobody
    lastSettled = settled;
    void settled.finally(() => {
      if (lastSettled === settled) lastSettled = null;
      arrival?.();
    });
    await Promise.race([mayOverlap, settled]);
  };

  const runPipeline = async (): Promise<void> => {
    for (;;) {
      if (queue.length > 0) {
        await startPipelined();
        continue;
      }
      const last = lastSettled;
      if (!last) return;
      // Wait for the batch in flight to settle or for new records, whichever comes first.
      await new Promise<void>((r) => {
        arrival = r;
        void last.finally(r);
      });
      arrival = null;
    }
  };

  const writeOnce = async (): Promise<void> => {
    if (cfg.pipeline) return runPipeline();
    const items = takeBatch();
    if (items.length === 0) return;
    const rows = rowsOf(items);
    counters.flushes++;
    try {
      await sink(
        items.map((i) => i.rows),
        { previous: Promise.resolve(), overlap: () => undefined },
      );
      counters.committedRows += rows;
      for (const item of items) item.resolve();
    } catch (err) {
      counters.flushFailures++;
      for (const item of items) item.reject(err);
    } finally {
      inFlight -= rows;
    }
  };

  const scheduleFlush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    // Flushes are serialised: a batch is written only after the previous one settled.
    chain = chain.then(async () => {
      writing = true;
      try {
        while (queue.length > 0) {
          await writeOnce();
          // Keep draining only while full batches are waiting; a partial one waits for its
          // timer (group commit: it goes now, it gathered while the last batch was written).
          if (queued < cfg.batchRowsMax && !stopped && !cfg.groupCommit) break;
        }
      } finally {
        writing = false;
      }
      if (queue.length > 0 && !timer) timer = setTimeout(() => void scheduleFlush(), cfg.flushIntervalMs);
    });
    return chain;
  };

  const kick = () => {
    if (kicked || writing) return;
    kicked = true;
    setImmediate(() => {
      kicked = false;
      if (!writing && queue.length > 0) void scheduleFlush();
    });
  };

  return {
    enqueue(rows) {
      const count = size(rows);
      if (stopped) return Promise.reject(new WriterStoppedError());
      if (count === 0) return Promise.resolve();
      if (queued + inFlight + count > cfg.queueRowsMax) {
        counters.rejectedFull++;
        return Promise.reject(new QueueFullError(queued + inFlight));
      }
      counters.enqueuedRows += count;
      const promise = new Promise<void>((resolve, reject) => queue.push({ rows, count, resolve, reject }));
      queued += count;
      arrival?.();
      if (cfg.groupCommit) kick();
      else if (queued >= cfg.batchRowsMax) void scheduleFlush();
      else if (!timer) timer = setTimeout(() => void scheduleFlush(), cfg.flushIntervalMs);
      return promise;
    },
    async flush() {
      const target = queue.length > 0 ? scheduleFlush() : chain;
      await target;
      // Drain everything queued at the time of the call, including partial batches.
      while (queue.length > 0) {
        chain = chain.then(() => writeOnce());
        await chain;
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await this.flush();
    },
    get queuedRows() {
      return queued + inFlight;
    },
    counters,
  };
}
