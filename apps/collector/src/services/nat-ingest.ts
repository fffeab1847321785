// NAT syslog ingest: a bounded queue of raw lines (fed by the syslog listener), flushed by
// size or time into batches of nat_log rows and quarantined lines, written atomically by
// the NatDb. When the database cannot take a batch it goes to the local spool; while the
// spool holds anything, new batches go behind it so order is kept, and each flush first
// replays the spool. Nothing is silently lost: every line ends up stored, quarantined,
// counted as skipped (normal non-NAT syslog) or counted as dropped with a reason.
//
// Counters at rest: received = stored + quarantined + skipped + dropped + (lines still in
// the spool or queue). stored and quarantined count commits to the database, whether
// direct or replayed; spooled and replayed count lines written to and replayed from the spool.
import { natLogRowProblem } from "@isp/db/nat-log";
import { parseNatLine, parseSyslog, SyslogParseError, type NatParseReason } from "@isp/network/nat/parse";
import type { Logger } from "../log";
import type { SessionHit, SessionIndex } from "./nat-resolver";
import type { NatDb, NatLogRow, NatQuarantineRow } from "./nat-store";
import type { NatSpool, SpoolBatch } from "./nat-spool";

export interface NatIngestConfig {
  /** Flush as soon as this many lines are queued; also the most lines one batch holds. */
  batchLinesMax: number;
  /** Flush a partial batch this long after its first line arrived. */
  flushIntervalMs: number;
  /** Lines queued (plus the batch being written). UDP beyond this is dropped; TCP is paused. */
  queueLinesMax: number;
  /** Bytes of raw text queued; the same policy as queueLinesMax. */
  queueBytesMax: number;
  /** While the database is unavailable, how often a flush retries it. */
  retryMs: number;
  /** Log the counters this often (0 = never). */
  logEveryMs: number;
  /** Syslog line limit (longer lines are quarantined as too_long, truncated). */
  lineCharsMax: number;
  rfc3164UtcOffsetMinutes: number;
  /** Batches written at once while the database is healthy (each on its own connection). */
  writeConcurrency: number;
  /** Database look-ups per batch for private IPs the session index does not know... */
  fallbackLookupsPerBatch: number;
  /** ...and the time they may take together (a slow database must not stall the ingest). */
  fallbackBudgetMs: number;
  /** How long an IP without any session is not looked up again. */
  negativeCacheMs: number;
  negativeCacheMax: number;
}

export const defaultNatIngestConfig: NatIngestConfig = {
  batchLinesMax: 5_000,
  flushIntervalMs: 250,
  // 6 s of 50,000 lines/s: rides out a slow database or a starved main thread on a busy
  // host (100,000 = 2 s was not enough in the bench on a shared 2-core machine).
  queueLinesMax: 300_000,
  queueBytesMax: 128 * 1024 * 1024,
  retryMs: 1_000,
  logEveryMs: 60_000,
  lineCharsMax: 8192,
  rfc3164UtcOffsetMinutes: 300,
  writeConcurrency: 2,
  fallbackLookupsPerBatch: 256,
  fallbackBudgetMs: 250,
  negativeCacheMs: 10_000,
  negativeCacheMax: 50_000,
};

export type NatDropReason = "udp_queue_full" | "udp_handoff_full" | "udp_worker_exit" | "stopped" | "store_rejected";

/** Errors about the data (RangeError from the row check, SQLSTATE classes 22 and 23), not the database's availability. */
export function isDataError(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

export interface NatIngestCounters {
  received: number;
  stored: number;
  quarantined: number;
  quarantinedByReason: Record<string, number>;
  /** Valid syslog that is not a source-NAT line (logins, link events, port forwards). */
  skipped: number;
  skippedByReason: Partial<Record<NatParseReason, number>>;
  dropped: number;
  droppedByReason: Partial<Record<NatDropReason, number>>;
  spooled: number;
  replayed: number;
  /** Rows whose subscriber was found (by PPPoE user or session index/database). */
  resolved: number;
  unresolved: number;
  flushes: number;
  writeFailures: number;
  /** Times the database was found unavailable (each outage counts once). */
  outages: number;
  /** Most lines held in memory at once (queue + batches being written or waiting): how close the queue came to its bound. */
  queuedLinesPeak: number;
}

export interface NatIngest {
  /**
   * Hands over one line. UDP: false when it was dropped (queue full, counted). TCP: the
   * line is always taken (the sender must not lose it); false means "pause reading".
   * receivedAt: a Date or ms since the epoch (the UDP thread sends numbers).
   */
  offer(raw: string, sourceIp: string, receivedAt: Date | number, transport: "udp" | "tcp"): boolean;
  /** Lines the listener received but had to drop before offering them (counted as received and dropped). */
  countDropped(count: number, reason: NatDropReason): void;
  /** A line the listener could not frame: goes straight to quarantine with this reason. */
  reject(raw: string, sourceIp: string, receivedAt: Date, reason: string): void;
  /** Called (each time) when a full queue has room again, to resume paused TCP senders. */
  onDrain(listener: () => void): void;
  readonly hasRoom: boolean;
  /** Begins timed flushing and replays any spool left by a previous run. */
  start(): void;
  /** Writes (or spools) everything queued now. */
  flush(): Promise<void>;
  /** Stops accepting lines, then flushes. */
  stop(): Promise<void>;
  readonly counters: NatIngestCounters;
  readonly queuedLines: number;
  readonly spooledBatches: number;
}

interface Item {
  raw: string;
  sourceIp: string;
  receivedAtMs: number;
  /** Set for lines the listener already refused (framing). */
  error: string | null;
}

interface Held {
  /** Arrival order of the batch: pending batches stay in it even when written concurrently. */
  seq: number;
  batch: SpoolBatch;
  lines: number;
  bytes: number;
}

export interface NatIngestDeps {
  db: NatDb;
  index: SessionIndex;
  /** null: no spool; a batch the database refuses stays in memory and the queue backs up. */
  spool: NatSpool | null;
  routerIdFor(sourceIp: string): number | null;
  subscriberIdFor(pppoeUser: string): number | null;
  log: Logger;
  config?: Partial<NatIngestConfig>;
}

const bump = <K extends string>(m: Partial<Record<K, number>>, k: K, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

export function createNatIngest(deps: NatIngestDeps): NatIngest {
  const cfg = { ...defaultNatIngestConfig, ...deps.config };
  const { db, index, spool, log } = deps;
  const counters: NatIngestCounters = {
    received: 0,
    stored: 0,
    quarantined: 0,
    quarantinedByReason: {},
    skipped: 0,
    skippedByReason: {},
    dropped: 0,
    droppedByReason: {},
    spooled: 0,
    replayed: 0,
    resolved: 0,
    unresolved: 0,
    flushes: 0,
    writeFailures: 0,
    outages: 0,
    queuedLinesPeak: 0,
  };
  const queue: Item[] = [];
  let head = 0; // queue[head..] are waiting; compacted as it drains
  let queuedBytes = 0;
  // Batches built but neither written nor spooled (the database refused them and there is
  // no room in the spool, or no spool): retried first, in order.
  const pending: Held[] = [];
  let pendingLines = 0;
  let pendingBytes = 0;
  // Batches being written concurrently while the database is healthy.
  const inFlight = new Set<Promise<void>>();
  let inFlightLines = 0;
  let inFlightBytes = 0;
  let stopped = false;
  let started = false;
  let dbDown = false;
  let lastFailureMs = 0;
  const drainListeners: (() => void)[] = [];
  let timer: NodeJS.Timeout | null = null;
  let logTimer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();
  const negative = new Map<string, number>(); // ip -> until (ms)

  const waiting = () => queue.length - head;
  const linesInMemory = () => waiting() + pendingLines + inFlightLines;
  const bytesInMemory = () => queuedBytes + pendingBytes + inFlightBytes;
  const hasRoom = () => linesInMemory() < cfg.queueLinesMax && bytesInMemory() < cfg.queueBytesMax;

  const schedule = (ms: number) => {
    if (timer || stopped || !started) return;
    timer = setTimeout(() => {
      timer = null;
      void kick();
    }, ms);
    timer.unref();
  };

  const push = (item: Item) => {
    queue.push(item);
    queuedBytes += item.raw.length;
    const inMemory = linesInMemory();
    if (inMemory > counters.queuedLinesPeak) counters.queuedLinesPeak = inMemory;
    if (waiting() >= cfg.batchLinesMax) void kick();
    else schedule(cfg.flushIntervalMs);
  };

  /** Parse, classify and resolve one batch. */
  const build = async (items: readonly Item[]): Promise<SpoolBatch> => {
    const rows: NatLogRow[] = [];
    const quarantine: NatQuarantineRow[] = [];
    const misses: number[] = [];
    for (const it of items) {
      const receivedAt = new Date(it.receivedAtMs);
      if (it.error !== null) {
        quarantine.push({ receivedAt, sourceIp: it.sourceIp, reason: it.error, raw: it.raw });
        continue;
      }
      let msg;
      try {
        msg = parseSyslog(it.raw, receivedAt, { rfc3164UtcOffsetMinutes: cfg.rfc3164UtcOffsetMinutes, lineCharsMax: cfg.lineCharsMax });
      } catch (err) {
        const reason = err instanceof SyslogParseError ? `syslog_${err.reason}` : "syslog_error";
        quarantine.push({ receivedAt, sourceIp: it.sourceIp, reason, raw: it.raw.slice(0, cfg.lineCharsMax) });
        continue;
      }
      const nat = parseNatLine(msg.message);
      if (!nat.ok) {
        // Routers send all their syslog to us; most of it is not NAT. Counted, not stored.
        if (nat.reason === "not_nat" || nat.reason === "not_srcnat") {
          counters.skipped++;
          bump(counters.skippedByReason, nat.reason);
        } else {
          quarantine.push({ receivedAt, sourceIp: it.sourceIp, reason: `nat_${nat.reason}`, raw: it.raw });
        }
        continue;
      }
      const r = nat.record;
      const routerId = deps.routerIdFor(it.sourceIp);
      let subscriberId = r.pppoeUser ? deps.subscriberIdFor(r.pppoeUser) : null;
      const hit = index.lookup(r.privateIp, msg.time, routerId);
      let acctSessionId: string | null = null;
      if (hit && (subscriberId === null || hit.subscriberId === null || hit.subscriberId === subscriberId)) {
        subscriberId ??= hit.subscriberId;
        acctSessionId = hit.acctSessionId;
      }
      const row: NatLogRow = {
        time: msg.time,
        routerId,
        sourceIp: it.sourceIp,
        event: r.event,
        protocol: r.protocol,
        privateIp: r.privateIp,
        privatePort: r.privatePort,
        publicIp: r.publicIp,
        publicPort: r.publicPort,
        destIp: r.destIp,
        destPort: r.destPort,
        subscriberId,
        acctSessionId,
        pppoeUser: r.pppoeUser,
        srcMac: r.srcMac,
      };
      // The storage layer refuses a whole batch for one bad row; keep such a line apart.
      if (natLogRowProblem(row) !== null) {
        quarantine.push({ receivedAt, sourceIp: it.sourceIp, reason: "nat_unstorable", raw: it.raw });
        continue;
      }
      rows.push(row);
      if (subscriberId === null && !hit) misses.push(rows.length - 1);
    }
    if (misses.length > 0 && !dbDown) await resolveMisses(rows, misses);
    for (const row of rows) {
      if (row.subscriberId !== null) counters.resolved++;
      else counters.unresolved++;
    }
    return { rows, quarantine };
  };

  /** Database look-ups for private IPs the index does not know; hits feed the index. */
  const resolveMisses = async (rows: NatLogRow[], misses: number[]) => {
    const now = Date.now();
    let lookups = 0;
    for (const i of misses) {
      const row = rows[i]!;
      // An earlier look-up in this batch may have filled the index.
      let hit: SessionHit | null = index.lookup(row.privateIp, row.time, row.routerId);
      if (!hit) {
        // The index knows every session from coveredSince on: a miss there is a real "none".
        const covered = index.coveredSince;
        if (covered !== null && row.time >= covered) continue;
        const until = negative.get(row.privateIp);
        if (until !== undefined && until > now) continue;
        if (lookups >= cfg.fallbackLookupsPerBatch || Date.now() - now > cfg.fallbackBudgetMs) continue;
        lookups++;
        try {
          const span = await db.sessionAt(row.privateIp, row.time, row.routerId);
          if (span) {
            index.observe(row.privateIp, span);
            hit = span;
          } else {
            negative.delete(row.privateIp);
            negative.set(row.privateIp, now + cfg.negativeCacheMs);
            while (negative.size > cfg.negativeCacheMax) {
              const oldest = negative.keys().next().value;
              if (oldest === undefined) break;
              negative.delete(oldest);
            }
          }
        } catch {
          // The database is going away; the write below will find out. Stored unresolved.
          return;
        }
      }
      if (hit) {
        row.subscriberId ??= hit.subscriberId;
        row.acctSessionId = hit.acctSessionId;
      }
    }
  };

  const countCommitted = (b: SpoolBatch) => {
    counters.stored += b.rows.length;
    counters.quarantined += b.quarantine.length;
    for (const q of b.quarantine) bump(counters.quarantinedByReason, q.reason);
  };

  const writeOk = () => {
    if (dbDown) log.info("NAT database writes resumed");
    dbDown = false;
  };

  /**
   * Writes a batch: the batch as committed, "dropped", or null when the database is
   * unavailable (retry later). A batch the database refuses for its content would block
   * the spool forever if retried, so its rows go to the quarantine as JSON instead; only
   * if that is refused too are they dropped (counted).
   */
  const tryWrite = async (b: SpoolBatch): Promise<SpoolBatch | "dropped" | null> => {
    try {
      await db.write(b.rows, b.quarantine);
      writeOk();
      return b;
    } catch (err) {
      let failure: unknown = err;
      if (isDataError(err)) {
        log.error(`NAT batch refused by the database (${(err as Error).message}): quarantining its ${b.rows.length} rows`);
        const receivedAt = new Date();
        const fallback: SpoolBatch = {
          rows: [],
          quarantine: [...b.quarantine, ...b.rows.map((r) => ({ receivedAt, sourceIp: r.sourceIp, reason: "store_rejected", raw: JSON.stringify(r) }))],
        };
        try {
          await db.write([], fallback.quarantine);
          writeOk();
          return fallback;
        } catch (again) {
          if (isDataError(again)) {
            counters.dropped += fallback.quarantine.length;
            bump(counters.droppedByReason, "store_rejected", fallback.quarantine.length);
            log.error(`NAT batch dropped: ${(again as Error).message}`);
            return "dropped";
          }
          failure = again;
        }
      }
      counters.writeFailures++;
      lastFailureMs = Date.now();
      if (!dbDown) {
        counters.outages++;
        log.warn(`NAT batch not stored (${(failure as Error).message}); ${spool ? "spooling" : "holding it"} until the database is back`);
      }
      dbDown = true;
      return null;
    }
  };

  /** Replays the spool in order; false when the database refused (stop for now). */
  const replay = async (): Promise<boolean> => {
    if (!spool) return true;
    while (spool.pendingBatches > 0) {
      const b = await spool.peek();
      if (!b) break;
      const done = await tryWrite(b);
      if (done === null) return false;
      await spool.ack();
      if (done !== "dropped") {
        countCommitted(done);
        counters.replayed += done.rows.length + done.quarantine.length;
      }
    }
    return true;
  };

  // Called after every batch that left the queue: a sender may have been paused by the
  // listener's own look at hasRoom, not only by an offer that returned false.
  const releaseRoom = () => {
    if (hasRoom()) for (const l of drainListeners) l();
  };

  let nextSeq = 0;
  const addPending = (h: Held) => {
    let at = pending.length;
    while (at > 0 && pending[at - 1]!.seq > h.seq) at--;
    pending.splice(at, 0, h);
    pendingLines += h.lines;
    pendingBytes += h.bytes;
  };

  /** Writes or spools the oldest pending batch; false when neither is possible now. */
  const settlePending = async (): Promise<boolean> => {
    const h = pending[0];
    if (!h) return false;
    const spoolBusy = spool !== null && (spool.pendingBatches > 0 || (dbDown && Date.now() - lastFailureMs < cfg.retryMs));
    const done = spoolBusy || (spool === null && dbDown && Date.now() - lastFailureMs < cfg.retryMs) ? null : await tryWrite(h.batch);
    if (done !== null) {
      if (done !== "dropped") countCommitted(done);
    } else if (spool) {
      let ok = false;
      try {
        ok = await spool.append(h.batch);
      } catch (err) {
        log.error("NAT spool write failed", { error: (err as Error).message });
      }
      if (!ok) return false; // spool full or failing: keep the batch, the queue backs up
      counters.spooled += h.batch.rows.length + h.batch.quarantine.length;
    } else {
      return false;
    }
    pending.shift();
    pendingLines -= h.lines;
    pendingBytes -= h.bytes;
    releaseRoom();
    return true;
  };

  /** Starts writing a batch without waiting for it; a refused batch becomes pending. */
  const writeConcurrently = (h: Held) => {
    inFlightLines += h.lines;
    inFlightBytes += h.bytes;
    const p: Promise<void> = tryWrite(h.batch)
      .then((done) => {
        if (done === null) addPending(h);
        else if (done !== "dropped") countCommitted(done);
      })
      .catch((err: Error) => {
        log.error("NAT write failed", { error: err.message });
        addPending(h);
      })
      .finally(() => {
        inFlight.delete(p);
        inFlightLines -= h.lines;
        inFlightBytes -= h.bytes;
        releaseRoom();
        if (pending.length > 0) schedule(cfg.retryMs);
      });
    inFlight.add(p);
  };

  /** One step: returns whether it made progress (and more may be waiting). */
  const flushOnce = async (): Promise<boolean> => {
    // While the database is known down, try it again only every retryMs, not per batch.
    if (!dbDown || Date.now() - lastFailureMs >= cfg.retryMs) await replay();
    if (pending.length > 0) return settlePending();
    const n = Math.min(waiting(), cfg.batchLinesMax);
    if (n === 0) return false;
    // Healthy: up to writeConcurrency batches in the database at once, the next one being
    // built meanwhile. Otherwise one at a time, in order, through the spool.
    const healthy = !dbDown && (spool === null || spool.pendingBatches === 0);
    if (healthy) while (inFlight.size >= cfg.writeConcurrency) await Promise.race(inFlight);
    // Not healthy: let concurrent writes settle first, so that a refused one is spooled
    // ahead of later lines (the spool keeps arrival order).
    else if (inFlight.size > 0) {
      await Promise.all(inFlight);
      return true;
    }
    const items = queue.slice(head, head + n);
    head += n;
    let bytes = 0;
    for (const it of items) bytes += it.raw.length;
    queuedBytes -= bytes;
    if (head > 4096 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    counters.flushes++;
    const h: Held = { seq: nextSeq++, batch: await build(items), lines: items.length, bytes };
    if (healthy && !dbDown) {
      writeConcurrently(h);
      return true;
    }
    addPending(h);
    await settlePending();
    return true;
  };

  let kickQueued: Promise<void> | null = null;
  const kick = (force = false): Promise<void> => {
    // A size-triggered kick while one is already queued would do nothing more.
    if (!force && kickQueued) return kickQueued;
    const next = chain.then(async () => {
      if (kickQueued === next) kickQueued = null;
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      try {
        for (;;) {
          const progressed = await flushOnce();
          if (!progressed) {
            // flush() and stop() return only when what was in flight has settled too.
            if ((force || stopped) && inFlight.size > 0) {
              await Promise.all(inFlight);
              continue;
            }
            break;
          }
          if (!force && !stopped && waiting() < cfg.batchLinesMax) break;
        }
      } catch (err) {
        log.error("NAT flush failed", { error: (err as Error).message });
      }
      if (dbDown || pending.length > 0 || (spool && spool.pendingBatches > 0)) schedule(cfg.retryMs);
      else if (waiting() > 0) schedule(cfg.flushIntervalMs);
    });
    chain = next;
    if (!force) kickQueued = next;
    return next;
  };

  const logCounters = () => {
    const c = counters;
    log.info(
      `NAT ingest: received ${c.received}, stored ${c.stored}, quarantined ${c.quarantined}, skipped ${c.skipped}, dropped ${c.dropped}, ` +
        `spooled ${c.spooled}, replayed ${c.replayed}; queued ${linesInMemory()} (peak ${c.queuedLinesPeak}), spool ${spool?.pendingBatches ?? 0} batches`,
      { droppedByReason: c.droppedByReason, quarantinedByReason: c.quarantinedByReason },
    );
  };

  return {
    offer(raw, sourceIp, receivedAt, transport) {
      counters.received++;
      if (stopped) {
        counters.dropped++;
        bump(counters.droppedByReason, "stopped");
        return false;
      }
      if (transport === "udp" && !hasRoom()) {
        counters.dropped++;
        bump(counters.droppedByReason, "udp_queue_full");
        return false;
      }
      push({ raw, sourceIp, receivedAtMs: typeof receivedAt === "number" ? receivedAt : receivedAt.getTime(), error: null });
      return transport === "udp" || hasRoom();
    },
    countDropped(count, reason) {
      if (count <= 0) return;
      counters.received += count;
      counters.dropped += count;
      bump(counters.droppedByReason, reason, count);
    },
    reject(raw, sourceIp, receivedAt, reason) {
      counters.received++;
      push({ raw, sourceIp, receivedAtMs: receivedAt.getTime(), error: reason });
    },
    onDrain(listener) {
      drainListeners.push(listener);
    },
    get hasRoom() {
      return hasRoom();
    },
    start() {
      started = true;
      if (cfg.logEveryMs > 0) {
        logTimer = setInterval(logCounters, cfg.logEveryMs);
        logTimer.unref();
      }
      if ((spool?.pendingBatches ?? 0) > 0) {
        log.info(`NAT spool holds ${spool?.pendingBatches} batches from an earlier run: replaying`);
      }
      void kick();
    },
    async flush() {
      await kick(true);
    },
    async stop() {
      stopped = true;
      if (logTimer) clearInterval(logTimer);
      logTimer = null;
      // One pass: whatever the database does not take now is spooled (or, without a
      // spool, reported as lost below).
      await kick(true);
      if (timer) clearTimeout(timer);
      timer = null;
      const left = linesInMemory();
      if (left > 0) log.error(`NAT ingest stopped with ${left} lines neither stored nor spooled`);
      logCounters();
    },
    counters,
    get queuedLines() {
      return linesInMemory();
    },
    get spooledBatches() {
      return spool?.pendingBatches ?? 0;
    },
  };
}
