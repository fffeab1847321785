// Auth log rows leave the RADIUS hot path through a bounded queue, written in batches on
// a timer. The reply never waits for it: a full queue or a database error drops rows and
// counts them (the auth log is for support, not for billing).
import { insertAuthLog, type AuthLogRow } from "@isp/db/auth-log";
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
  // little to what each scavenge must copy. Rows are rebuilt as objects only for the INSERT.
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

  /** Takes up to n rows off the front of the ring as objects, releasing the slots' strings. */
  function take(n: number): AuthLogRow[] {
    const batch: AuthLogRow[] = [];
    for (let k = 0; k < n; k++) {
      const i = head;
      batch.push({
        time: new Date(time[i]!),
        routerId: Number.isNaN(routerId[i]!) ? null : routerId[i]!,
        nasIp: nasIp[i]!,
        username: username[i]!,
        subscriberId: Number.isNaN(subscriberId[i]!) ? null : subscriberId[i]!,
        callingStationId: callingStationId[i]!,
        method: method[i]!,
        result: result[i]!,
        reason: reason[i]!,
        reply: reply[i]!,
      });
      nasIp[i] = username[i] = reason[i] = "";
      callingStationId[i] = reply[i] = null;
      head = head + 1 === cap ? 0 : head + 1;
    }
    count -= n;
    return batch;
  }

  async function drain(): Promise<void> {
    while (count > 0) {
      const batch = take(Math.min(cfg.batchRowsMax, count));
      counters.queued = count;
      try {
        await insertAuthLog(q, batch);
        counters.written += batch.length;
      } catch (err) {
        counters.droppedWriteFailed += batch.length;
        const now = Date.now();
        if (now - lastErrorLogMs > 10_000) {
          lastErrorLogMs = now;
          log.warn(`auth log: dropped ${batch.length} rows`, { error: (err as Error).message });
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
