// Accounting-Request handler. "ack" is returned only once the record is durable: either
// the database transaction holding it committed within slowWriteMs, or it was appended
// to the local spool and fsynced (acct-spool.ts). A slow or failed database write falls
// over to the spool; while the spool holds anything, every new record goes there too, so
// the replayer applies records in arrival order. A full spool means "no-ack" and the NAS
// retransmits. Replays are idempotent (session-store.ts applies a record only if it moves
// its session forward), so a record that reached both the database and the spool, or a
// crash between a replayed commit and the spool's head update, never counts twice.
import { crc32 } from "node:zlib";
import type pg from "pg";
import { releaseAllocations } from "@isp/db/ip-pools";
import type { Logger } from "../log";
import type { AcctSpool } from "./acct-spool";
import { SpoolFullError } from "./acct-spool";
import type { RouterCache, SubscriberCache } from "./caches";
import type { AcctHandler } from "./radius-types";
import type { AcctInput, AcctItem, EndedSession, SessionStore } from "./session-store";

/** The spool's JSON payload (bigints as decimal strings). `id` is the dedupe key's hash, for tracing. */
export interface SpooledRecord {
  v: 1;
  id: string;
  routerId: number;
  subscriberId: number | null;
  receivedAtMs: number;
  rec: Omit<AcctInput, "inputOctets" | "outputOctets"> & { inputOctets: string; outputOctets: string };
}

/** What identifies a record's content: a resend with a new Identifier/Acct-Delay-Time has the same key. */
export function dedupeKey(item: Pick<AcctItem, "routerId" | "rec">): string {
  const r = item.rec;
  return `${item.routerId}|${r.acctSessionId}|${r.status}|${r.sessionTimeS}|${r.inputOctets}|${r.outputOctets}`;
}

export function toSpooled(item: AcctItem): SpooledRecord {
  return {
    v: 1,
    // For tracing only (never compared): CRC-32 of the dedupe key, as 8 hex digits. It
    // replaced a SHA-256 prefix that cost ~5% of the collector's CPU at saturation.
    id: crc32(dedupeKey(item)).toString(16).padStart(8, "0"),
    routerId: item.routerId,
    subscriberId: item.subscriberId,
    receivedAtMs: item.receivedAtMs,
    rec: { ...item.rec, inputOctets: item.rec.inputOctets.toString(), outputOctets: item.rec.outputOctets.toString() },
  };
}

export function fromSpooled(s: SpooledRecord): AcctItem {
  return {
    routerId: s.routerId,
    subscriberId: s.subscriberId,
    receivedAtMs: s.receivedAtMs,
    rec: { ...s.rec, inputOctets: BigInt(s.rec.inputOctets), outputOctets: BigInt(s.rec.outputOctets) },
  };
}

interface Waiting {
  at: number;
  done: boolean;
  resolve: (outcome: "ok" | "slow" | Error) => void;
}

export interface AccountingCounters {
  /** Records acknowledged after a direct database commit. */
  direct: number;
  /** Records acknowledged after an fsynced spool append. */
  spooled: number;
  /** Direct writes that were slower than slowWriteMs or failed, then spooled. */
  fallbacks: number;
  /** Records refused because the spool was full (not acknowledged; the NAS retransmits). */
  spoolFull: number;
  /** Spooled records applied to the database by the replayer. */
  replayed: number;
  replayFailures: number;
}

export interface AccountingService {
  handle: AcctHandler;
  /** Starts the replayer (the spool must be open: what it holds is replayed first). */
  start(): void;
  /** Stops the replayer; what is still spooled stays on disk for the next start. */
  stop(): Promise<void>;
  /** Replays until the spool is empty or `timeoutMs` passes (tests, shutdown). */
  drain(timeoutMs: number): Promise<boolean>;
  /** Marks sessions stale; skipped while the spool holds records (they may be the missing interims). */
  sweepStale(staleAfterS: number): Promise<EndedSession[] | null>;
  readonly counters: AccountingCounters;
}

export function createAccountingService(deps: {
  routers: RouterCache;
  subscribers: SubscriberCache;
  sessions: SessionStore;
  spool: AcctSpool<SpooledRecord>;
  counters: { acctResponses: number; acctNotAcked: number };
  markSeen: (routerId: number) => void;
  log: Logger;
  /** A direct database write slower than this goes to the spool instead. Default 200. */
  slowWriteMs?: number;
  /** Records per replay transaction. Default 2000. */
  replayBatchMax?: number;
  /** Pause after a failed replay (the database is still down), doubled up to 8x. Default 500. */
  replayRetryMs?: number;
}): AccountingService {
  const { counters: shared, log, spool, sessions } = deps;
  const slowWriteMs = deps.slowWriteMs ?? 200;
  const replayBatchMax = deps.replayBatchMax ?? 2000;
  const replayRetryMs = deps.replayRetryMs ?? 500;
  const counters: AccountingCounters = { direct: 0, spooled: 0, fallbacks: 0, spoolFull: 0, replayed: 0, replayFailures: 0 };
  const lastLog = new Map<string, number>();
  const warnEvery = (what: string, msg: string, extra?: Record<string, unknown>) => {
    const now = Date.now();
    if (now - (lastLog.get(what) ?? 0) < 5000) return;
    lastLog.set(what, now);
    log.warn(msg, extra);
  };

  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  const kick = () => wake?.();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = null;
        resolve();
      }
      wake = done;
    });

  const replayOnce = async (): Promise<"idle" | "progress" | "failed"> => {
    if (!spool.pending) {
      if (spool.bytes > 0) await spool.commit(0, 0); // truncate a fully consumed file
      return "idle";
    }
    const entries = await spool.read(replayBatchMax);
    if (entries.length === 0) return "idle"; // appends still syncing
    try {
      const r = await sessions.applyBatch(entries.map((e) => fromSpooled(e.payload)));
      counters.replayed += entries.length;
      await spool.commit(entries.at(-1)!.end, entries.length);
      if (!spool.pending) log.info(`spool drained: ${counters.replayed} records replayed so far`, { duplicates: r.duplicates });
      return "progress";
    } catch (err) {
      spool.rewind();
      counters.replayFailures++;
      warnEvery("replay", "spool replay failed; will retry", { error: (err as Error).message, pending: spool.pendingRecords });
      return "failed";
    }
  };

  const replayLoop = async () => {
    let failures = 0;
    while (running) {
      let outcome: Awaited<ReturnType<typeof replayOnce>>;
      try {
        outcome = await replayOnce();
      } catch (err) {
        warnEvery("replay-read", "spool read failed", { error: (err as Error).message });
        outcome = "failed";
      }
      if (outcome === "progress") failures = 0;
      else if (outcome === "failed") failures++;
      if (!running) break;
      if (outcome === "failed") await sleep(replayRetryMs * 2 ** Math.min(3, failures - 1));
      else if (outcome === "idle") await sleep(spool.pending ? 5 : 1000);
    }
  };

  // Direct writes waiting for their commit, oldest first. One timer (not one per record)
  // gives up on the oldest ones after slowWriteMs; at most one entry per request the
  // server has in flight (its inFlightMax), settled ones are dropped as the head passes.
  const waiting: Waiting[] = [];
  let waitingHead = 0;
  let slowTimer: NodeJS.Timeout | null = null;
  const settle = (w: Waiting, outcome: "ok" | "slow" | Error) => {
    if (w.done) return;
    w.done = true;
    w.resolve(outcome);
  };
  const checkSlow = () => {
    slowTimer = null;
    const now = performance.now();
    while (waitingHead < waiting.length) {
      const w = waiting[waitingHead]!;
      if (!w.done && now - w.at < slowWriteMs) break;
      settle(w, "slow");
      waitingHead++;
    }
    if (waitingHead > 1024 && waitingHead * 2 > waiting.length) {
      waiting.splice(0, waitingHead);
      waitingHead = 0;
    }
    // Skip settled entries so the timer aims at the oldest one still waiting.
    while (waitingHead < waiting.length && waiting[waitingHead]!.done) waitingHead++;
    if (waitingHead === waiting.length) {
      waiting.length = 0;
      waitingHead = 0;
      return;
    }
    slowTimer = setTimeout(checkSlow, Math.max(1, waiting[waitingHead]!.at + slowWriteMs - now));
  };
  const watchSlow = (w: Waiting) => {
    waiting.push(w);
    if (!slowTimer) slowTimer = setTimeout(checkSlow, slowWriteMs);
  };

  const toSpool = async (item: AcctItem): Promise<"ack" | "no-ack"> => {
    try {
      await spool.append(toSpooled(item));
      counters.spooled++;
      shared.acctResponses++;
      kick();
      return "ack";
    } catch (err) {
      shared.acctNotAcked++;
      if (err instanceof SpoolFullError) {
        counters.spoolFull++;
        warnEvery("full", "accounting spool full: not acknowledging (NAS will retransmit)", { bytes: err.bytes });
      } else {
        warnEvery("append", "accounting spool append failed; not acknowledging", { error: (err as Error).message });
      }
      return "no-ack";
    }
  };

  return {
    async handle(req) {
      const router = deps.routers.byIp(req.sourceIp);
      if (!router) {
        // The server only calls us for known NAS; a router removed since is just dropped.
        shared.acctNotAcked++;
        return "no-ack";
      }
      deps.markSeen(router.id);
      const rec = req.record;
      // Cache only: a cache miss is resolved by username inside the apply transaction, so
      // an unreachable database never blocks the spool path.
      const subscriberId = rec.status === "on" || rec.status === "off" ? null : (deps.subscribers.cachedByUsername(rec.username)?.id ?? null);
      const item: AcctItem = { routerId: router.id, subscriberId, rec, receivedAtMs: Date.now() };
      if (rec.status === "on" || rec.status === "off") log.info(`${router.name} Accounting-${rec.status === "on" ? "On" : "Off"}: closing its sessions`);

      if (spool.pending) return toSpool(item);
      const direct = sessions.enqueue(item);
      const outcome = await new Promise<"ok" | "slow" | Error>((resolve) => {
        const w: Waiting = { at: performance.now(), done: false, resolve };
        watchSlow(w);
        direct.then(
          () => settle(w, "ok"),
          (err: unknown) => settle(w, err as Error),
        );
      });
      if (outcome === "ok") {
        counters.direct++;
        shared.acctResponses++;
        return "ack";
      }
      // Slow or failed: the batch may still commit later; the spooled copy then replays as
      // a no-op. Either way the record is durable before we answer.
      direct.catch(() => undefined);
      counters.fallbacks++;
      if (outcome === "slow") warnEvery("slow", `database write slower than ${slowWriteMs} ms: spooling accounting`);
      else warnEvery("fail", "database write failed: spooling accounting", { error: outcome.message });
      return toSpool(item);
    },

    start() {
      if (running) return;
      running = true;
      loop = replayLoop();
    },

    async stop() {
      running = false;
      kick();
      await loop;
      loop = null;
      log.info(`accounting: ${counters.direct} acked after commit, ${counters.spooled} after spool fsync (${counters.fallbacks} slow/failed writes spooled), ${counters.replayed} replayed, ${counters.spoolFull} refused (spool full)`);
    },

    async drain(timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (spool.pending && Date.now() < until) {
        kick();
        await new Promise((r) => setTimeout(r, 20));
      }
      return !spool.pending;
    },

    async sweepStale(staleAfterS) {
      if (spool.pending) return null;
      return sessions.markStale(staleAfterS);
    },

    counters,
  };
}

/**
 * Called after the commit that ended sessions (Stop, Accounting-On/Off, stale sweep), also
 * for records applied from the spool. The IP pool release of the AAA work goes here.
 */
export function onSessionsEnded(ended: EndedSession[], ctx: { pool: pg.Pool; log: Logger }): void {
  if (ended.length === 0) return;
  ctx.log.debug(`${ended.length} sessions ended`, { causes: [...new Set(ended.map((e) => e.cause))] });
  void releaseAllocations(ctx.pool, ended.flatMap((e) => (e.framedIp ? [{ routerId: e.routerId, framedIp: e.framedIp }] : []))).catch((err: Error) => ctx.log.warn("address lease release failed (the stale-lease sweep retries)", { error: err.message }));
}
