// Auth log rows leave the RADIUS hot path through a bounded queue, written in batches on
// a timer. The reply never waits for it: a full queue or a database error drops rows and
// counts them (the auth log is for support, not for billing).
import { insertAuthLogColumns, type AuthLogColumns, type AuthLogRow } from "@isp/db/auth-log";
import type { Queryable } from "@isp/db/timeseries";
import type { Logger } from "../log";

export interface AuthLogWriterConfig {
  flushIntervalMs: number;
  batchRowsMax: number;
  queueRowsMax: number;
}

export const authLogWriterDefaults: AuthLogWriterConfig = { flushIntervalMs: 200, batchRowsMax: 1000, queueRowsMax: 50_000 };

export interface AuthLogWriter {
  /** Never throws, never waits. */
  push(row: AuthLogRow): void;
  /** Writes everything queued now (tests, shutdown). */
  flush(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  readonly counters: { queued: number; written: number; droppedQueueFull: number; droppedWriteFailed: number };
}

export function createAuthLogWriter(q: Queryable, log: Logger, config: Partial<AuthLogWriterConfig> = {}): AuthLogWriter {
  const cfg = { ...authLogWriterDefaults, ...config };
  // The queue is a ring of columns (queueRowsMax slots), not an array of row objects: a
  // queued row is a few numbers and references to strings that already exist (constants,
  // the router's address, the cached username), so rows waiting for the next flush add
  // little to what each scavenge must copy. A batch leaves as ten arrays (one INSERT ... unnest).
  const cap = Math.max(1, cfg.queueRowsMax);
  const time = new Float64Array(cap);
  const routerId = new Float64Array(cap);
  const subscriberId = new Float64Array(cap);
  const nasIp = new Array<string>(cap).fill("");
  const username = new Array<string>(cap).fill("");
  const callingStationId = new Array<string | null>(cap).fill(null);
  const method = new Array<AuthLogRow["method"]>(cap).fill("none");
  const result = new Array<AuthLogRow["result"]>(cap).fill("drop");
  const reason = new Array<string>(cap).fill("");
  const reply = new Array<string | null>(cap).fill(null);
  let head = 0;
  let count = 0;
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;
  let lastErrorLogMs = 0;
  const counters = { queued: 0, written: 0, droppedQueueFull: 0, droppedWriteFailed: 0 };

  /** Takes up to n rows off the front of the ring as columns, releasing the slots' strings. */
  function take(n: number): AuthLogColumns {
    const c: AuthLogColumns = {
      time: new Array<number>(n),
      routerId: new Array<number | null>(n),
      nasIp: new Array<string>(n),
      username: new Array<string>(n),
      subscriberId: new Array<number | null>(n),
      callingStationId: new Array<string | null>(n),
      method: new Array<AuthLogRow["method"]>(n),
      result: new Array<AuthLogRow["result"]>(n),
      reason: new Array<string>(n),
      reply: new Array<string | null>(n),
    };
    for (let k = 0; k < n; k++) {
      const i = head;
      c.time[k] = time[i]!;
      c.routerId[k] = Number.isNaN(routerId[i]!) ? null : routerId[i]!;
      c.nasIp[k] = nasIp[i]!;
      c.username[k] = username[i]!;
      c.subscriberId[k] = Number.isNaN(subscriberId[i]!) ? null : subscriberId[i]!;
      c.callingStationId[k] = callingStationId[i]!;
      c.method[k] = method[i]!;
      c.result[k] = result[i]!;
      c.reason[k] = reason[i]!;
      c.reply[k] = reply[i]!;
      nasIp[i] = username[i] = reason[i] = "";
      callingStationId[i] = reply[i] = null;
      head = head + 1 === cap ? 0 : head + 1;
    }
    count -= n;
    return c;
  }

  async function drain(): Promise<void> {
    while (count > 0) {
      const batch = take(Math.min(cfg.batchRowsMax, count));
      const rows = batch.time.length;
      counters.queued = count;
      try {
        await insertAuthLogColumns(q, batch);
        counters.written += rows;
      } catch (err) {
        counters.droppedWriteFailed += rows;
        const now = Date.now();
        if (now - lastErrorLogMs > 10_000) {
          lastErrorLogMs = now;
          log.warn(`auth log: dropped ${rows} rows`, { error: (err as Error).message });
        }
      }
    }
  }

  function flush(): Promise<void> {
    flushing ??= drain().finally(() => (flushing = null));
    return flushing;
  }

  return {
    counters,
    push(row) {
      if (count >= cap) {
        counters.droppedQueueFull++;
        return;
      }
      let i = head + count;
      if (i >= cap) i -= cap;
      time[i] = row.time.getTime();
      routerId[i] = row.routerId ?? NaN;
      subscriberId[i] = row.subscriberId ?? NaN;
      nasIp[i] = row.nasIp;
      username[i] = row.username;
      callingStationId[i] = row.callingStationId;
      method[i] = row.method;
      result[i] = row.result;
      reason[i] = row.reason;
      reply[i] = row.reply;
      count++;
      counters.queued = count;
    },
    async flush() {
      // A flush already running may have started before the newest rows arrived.
      await flush();
      if (count > 0) await flush();
    },
    start() {
      timer = setInterval(() => void flush(), cfg.flushIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await this.flush();
    },
  };
}
