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
  /** Flush as soon as this many rows are queued; also the most rows one flush writes. */
  batchRowsMax: number;
  /** Rows queued or being written; beyond this enqueue rejects (backpressure). */
  queueRowsMax: number;
}

export const defaultTsWriterConfig: TsWriterConfig = { flushIntervalMs: 50, groupCommit: false, batchRowsMax: 5_000, queueRowsMax: 50_000 };

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

export function createBatchWriter<T>(sink: (items: T[]) => Promise<void>, size: (item: T) => number, config: Partial<TsWriterConfig> = {}): BatchWriter<T> {
  const cfg = { ...defaultTsWriterConfig, ...config };
  if (cfg.batchRowsMax < 1 || cfg.queueRowsMax < cfg.batchRowsMax) {
    throw new Error("ts-writer: need 1 <= batchRowsMax <= queueRowsMax");
  }
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
    inFlight = rows;
    return items;
  };

  const writeOnce = async (): Promise<void> => {
    const items = takeBatch();
    if (items.length === 0) return;
    counters.flushes++;
    try {
      await sink(items.map((i) => i.rows));
      counters.committedRows += inFlight;
      for (const item of items) item.resolve();
    } catch (err) {
      counters.flushFailures++;
      for (const item of items) item.reject(err);
    } finally {
      inFlight = 0;
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
