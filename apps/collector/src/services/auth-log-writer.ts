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
  let queue: AuthLogRow[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;
  let lastErrorLogMs = 0;
  const counters = { queued: 0, written: 0, droppedQueueFull: 0, droppedWriteFailed: 0 };

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, cfg.batchRowsMax);
      queue = queue.slice(batch.length);
      counters.queued = queue.length;
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
      if (queue.length >= cfg.queueRowsMax) {
        counters.droppedQueueFull++;
        return;
      }
      queue.push(row);
      counters.queued = queue.length;
    },
    async flush() {
      // A flush already running may have started before the newest rows arrived.
      await flush();
      if (queue.length > 0) await flush();
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
