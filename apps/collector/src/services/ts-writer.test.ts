import { describe, expect, it } from "vitest";
import { createBatchWriter, PreviousBatchFailedError, QueueFullError, WriterStoppedError, type AccountingRow, type TsWriterConfig, type UsageRow } from "./ts-writer";

interface TsBatch {
  accounting: AccountingRow[];
  usage: UsageRow[];
}

/** The writer over items carrying rows of two tables, merged into one batch per flush. */
function createTsWriter(sink: (batch: TsBatch) => Promise<void>, config: Partial<TsWriterConfig>) {
  return createBatchWriter<Partial<TsBatch>>(
    async (items) => {
      const batch: TsBatch = { accounting: [], usage: [] };
      for (const item of items) {
        if (item.accounting) batch.accounting.push(...item.accounting);
        if (item.usage) batch.usage.push(...item.usage);
      }
      await sink(batch);
    },
    (rows) => (rows.accounting?.length ?? 0) + (rows.usage?.length ?? 0),
    config,
  );
}

const usage = (n: number): UsageRow[] =>
  Array.from({ length: n }, (_, i) => ({ time: new Date(0), subscriberId: i, routerId: 1, inputOctets: 1n, outputOctets: 2n }));

function recordingSink(opts: { delayMs?: number; failFirst?: boolean } = {}) {
  const batches: TsBatch[] = [];
  let calls = 0;
  let release: (() => void) | null = null;
  const sink = async (batch: TsBatch) => {
    calls++;
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (release === null && opts.delayMs === -1) await new Promise<void>((r) => (release = r));
    if (opts.failFirst && calls === 1) throw new Error("db down");
    batches.push(batch);
  };
  return { sink, batches, release: () => release?.() };
}

describe("ts-writer", () => {
  it("coalesces enqueues inside one flush interval into one batch and resolves on commit", async () => {
    const { sink, batches } = recordingSink();
    const w = createTsWriter(sink, { flushIntervalMs: 20, batchRowsMax: 100, queueRowsMax: 1000 });
    let resolved = 0;
    const ps = [1, 2, 3].map(() => w.enqueue({ usage: usage(2) }).then(() => resolved++));
    expect(resolved).toBe(0);
    await Promise.all(ps);
    expect(resolved).toBe(3);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.usage).toHaveLength(6);
    expect(w.counters.committedRows).toBe(6);
  });

  it("flushes at batchRowsMax without waiting for the timer, never splitting one enqueue", async () => {
    const { sink, batches } = recordingSink();
    const w = createTsWriter(sink, { flushIntervalMs: 60_000, batchRowsMax: 5, queueRowsMax: 100 });
    const started = Date.now();
    const first = w.enqueue({ usage: usage(3) });
    const second = w.enqueue({ usage: usage(3) });
    // 6 rows >= batchRowsMax triggers a flush at once; 3 + 3 > 5, so it takes only the
    // first enqueue, and the remainder waits for its timer (or an explicit flush).
    await first;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(batches).toHaveLength(1);
    await w.flush();
    await second;
    expect(batches.map((b) => b.usage.length)).toEqual([3, 3]);
    await w.stop();
  });

  it("rejects with QueueFullError when queueRowsMax would be exceeded, and accepts again after drain", async () => {
    const { sink } = recordingSink({ delayMs: 30 });
    const w = createTsWriter(sink, { flushIntervalMs: 5, batchRowsMax: 10, queueRowsMax: 10 });
    const ok = w.enqueue({ usage: usage(8) });
    await expect(w.enqueue({ usage: usage(3) })).rejects.toBeInstanceOf(QueueFullError);
    expect(w.counters.rejectedFull).toBe(1);
    await ok;
    await expect(w.enqueue({ usage: usage(3) })).resolves.toBeUndefined();
    await w.stop();
  });

  it("rejects every promise of a failed batch (so no ACK is sent) and keeps working", async () => {
    const { sink, batches } = recordingSink({ failFirst: true });
    const w = createTsWriter(sink, { flushIntervalMs: 5, batchRowsMax: 100, queueRowsMax: 100 });
    const a = w.enqueue({ usage: usage(1) });
    const b = w.enqueue({ usage: usage(1) });
    await expect(a).rejects.toThrow("db down");
    await expect(b).rejects.toThrow("db down");
    await w.enqueue({ usage: usage(1) });
    expect(batches).toHaveLength(1);
    expect(w.counters.flushFailures).toBe(1);
    await w.stop();
  });

  it("stop() drains queued rows and then refuses new ones", async () => {
    const { sink, batches } = recordingSink();
    const w = createTsWriter(sink, { flushIntervalMs: 60_000, batchRowsMax: 1000, queueRowsMax: 1000 });
    const p = w.enqueue({ usage: usage(4), accounting: [] });
    await w.stop();
    await p;
    expect(batches[0]!.usage).toHaveLength(4);
    await expect(w.enqueue({ usage: usage(1) })).rejects.toBeInstanceOf(WriterStoppedError);
  });

  it("writes batches one at a time, in order", async () => {
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    const w = createTsWriter(
      async (batch) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        order.push(batch.usage[0]!.subscriberId);
        active--;
      },
      { flushIntervalMs: 1, batchRowsMax: 1, queueRowsMax: 100 },
    );
    await Promise.all(
      [10, 20, 30, 40].map((id) => w.enqueue({ usage: [{ ...usage(1)[0]!, subscriberId: id }] })),
    );
    expect(maxActive).toBe(1);
    expect(order).toEqual([10, 20, 30, 40]);
  });

  it("group commit: an idle writer does not wait for the timer; what arrives during a write is the next batch, one batch at a time", async () => {
    let active = 0;
    let maxActive = 0;
    const sizes: number[] = [];
    let release: (() => void) | null = null;
    const w = createBatchWriter<number>(
      async (items) => {
        active++;
        maxActive = Math.max(maxActive, active);
        sizes.push(items.length);
        if (sizes.length === 1) await new Promise<void>((r) => (release = r));
        active--;
      },
      () => 1,
      { groupCommit: true, flushIntervalMs: 60_000, batchRowsMax: 4, queueRowsMax: 100 },
    );
    const started = Date.now();
    const first = [w.enqueue(1), w.enqueue(2)];
    // Next turn of the event loop: the first batch (both records) is being written.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(sizes).toEqual([2]);
    // Arriving while it is written: they wait for it, then go together (up to batchRowsMax).
    const later = [3, 4, 5, 6, 7].map((n) => w.enqueue(n));
    let laterDone = false;
    void Promise.all(later).then(() => (laterDone = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(sizes).toEqual([2]);
    expect(laterDone).toBe(false);
    release!();
    await Promise.all([...first, ...later]);
    expect(sizes).toEqual([2, 4, 1]);
    expect(maxActive).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    await w.stop();
  });

  it("pipeline: the next batch starts once the running one allows overlap, waits for its outcome, and settles after it", async () => {
    const events: string[] = [];
    const gates: (() => void)[] = [];
    const w = createBatchWriter<number>(
      async (items, { previous, overlap }) => {
        const name = items.join("+");
        events.push(`start ${name}`);
        await previous; // a real sink awaits it after taking its lock
        events.push(`prev-ok ${name}`);
        overlap();
        await new Promise<void>((r) => gates.push(r));
        events.push(`commit ${name}`);
      },
      () => 1,
      { groupCommit: true, pipeline: true, batchRowsMax: 2, queueRowsMax: 100 },
    );
    const settled: number[] = [];
    const ps = [1, 2, 3, 4, 5].map((n) => w.enqueue(n).then(() => settled.push(n)));
    const tick = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    await tick();
    // Batch 1+2 overlapped, so 3+4 started (and waits for 1+2's outcome); 5 waits for 3+4 to overlap.
    expect(events).toEqual(["start 1+2", "prev-ok 1+2", "start 3+4"]);
    expect(w.queuedRows).toBe(5);
    gates.shift()!();
    await tick();
    expect(settled).toEqual([1, 2]);
    expect(events.slice(3)).toEqual(["commit 1+2", "prev-ok 3+4", "start 5"]);
    gates.shift()!();
    await tick();
    gates.shift()!();
    await Promise.all(ps);
    expect(settled).toEqual([1, 2, 3, 4, 5]);
    expect(w.queuedRows).toBe(0);
    await w.stop();
  });

  it("pipeline: when a batch fails, the batch begun behind it fails too (nothing overtakes it), and later ones work again", async () => {
    const committed: number[] = [];
    let release: (() => void) | null = null;
    const w = createBatchWriter<number>(
      async (items, { previous, overlap }) => {
        try {
          await previous;
        } catch (err) {
          throw new PreviousBatchFailedError(err);
        }
        overlap();
        if (items[0] === 1) {
          await new Promise<void>((r) => (release = r));
          throw new Error("db down");
        }
        committed.push(...items);
      },
      () => 1,
      { groupCommit: true, pipeline: true, batchRowsMax: 2, queueRowsMax: 100 },
    );
    const outcome = (n: number) =>
      w.enqueue(n).then(
        () => `${n} ok`,
        (e: Error) => `${n} ${e.name}`,
      );
    const order: string[] = [];
    const ps = [1, 2, 3, 4].map((n) => outcome(n).then((o) => order.push(o)));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    release!();
    await Promise.all(ps);
    expect(order).toEqual(["1 Error", "2 Error", "3 PreviousBatchFailedError", "4 PreviousBatchFailedError"]);
    expect(committed).toEqual([]);
    await expect(w.enqueue(5)).resolves.toBeUndefined();
    expect(committed).toEqual([5]);
    expect(w.counters.flushFailures).toBe(2);
    await w.stop();
  });
});
