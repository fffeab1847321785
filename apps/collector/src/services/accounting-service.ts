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
import { releasePrefixes } from "@isp/db/ipv6-pools";
import type { Logger } from "../log";
import type { AcctSpool, SpoolCodec } from "./acct-spool";
import { SpoolFullError } from "./acct-spool";
import type { RouterCache, SubscriberCache } from "./caches";
import type { AcctHandler } from "./radius-types";
import { acctStatusCode, type AcctInput, type AcctItem, type AcctStatus, type EndedSession, type SessionStore } from "./session-store";

/** What the accounting spool holds: the record as the store applies it. */
export type SpooledRecord = AcctItem;

/**
 * The JSON payload of spool frames written before the binary record (bigints as decimal
 * strings). Still read (acctSpoolCodec.decode), never written. `id` was a trace hash.
 */
export interface LegacySpooledRecord {
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

/** The legacy JSON form (tests write old spool files with it). */
export function toSpooled(item: AcctItem): LegacySpooledRecord {
  return {
    v: 1,
    id: crc32(dedupeKey(item)).toString(16).padStart(8, "0"),
    routerId: item.routerId,
    subscriberId: item.subscriberId,
    receivedAtMs: item.receivedAtMs,
    rec: { ...item.rec, inputOctets: item.rec.inputOctets.toString(), outputOctets: item.rec.outputOctets.toString() },
  };
}

export function fromSpooled(s: LegacySpooledRecord): AcctItem {
  return {
    routerId: s.routerId,
    subscriberId: s.subscriberId,
    receivedAtMs: s.receivedAtMs,
    rec: { ...s.rec, inputOctets: BigInt(s.rec.inputOctets), outputOctets: BigInt(s.rec.outputOctets) },
  };
}

// Binary spool record (version 2), big-endian, after the spool's [length][CRC-32] header:
//   u8 2 | u8 status (RFC 2866 code) | u8 flags (which optional fields follow)
//   u32 routerId | i32 subscriberId (0 unless flag) | f64 receivedAtMs | u32 sessionTimeS
//   u64 inputOctets | u64 outputOctets | u32 delayTimeS
//   then u16 length + UTF-8 for: acctSessionId, username, and (if flagged) framedIp,
//   callingStationId, nasPortId, terminateCause, delegatedPrefix (flag 32, added later:
//   older frames simply lack it).
// A JSON frame of earlier versions starts with '{' (0x7b), so the first byte tells them apart.
const BIN_V2 = 2;
const FIXED_BYTES = 3 + 4 + 4 + 8 + 4 + 8 + 8 + 4;
const F_SUBSCRIBER = 1;
const F_FRAMED_IP = 2;
const F_CALLING = 4;
const F_NAS_PORT = 8;
const F_CAUSE = 16;
const F_DELEGATED = 32;
const statusByCode = new Map<number, AcctStatus>((Object.entries(acctStatusCode) as [AcctStatus, number][]).map(([k, v]) => [v, k]));

function putString(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 2, "utf8");
  if (n > 0xffff) throw new Error(`spool record too large (a text field of ${n} bytes)`);
  buf.writeUInt16BE(n, at);
  return at + 2 + n;
}

export const acctSpoolCodec: SpoolCodec<AcctItem> = {
  encodeInto(item, buf, at) {
    const r = item.rec;
    // Worst case: 3 UTF-8 bytes per UTF-16 code unit, so buf.write never cuts a string.
    const strings = r.acctSessionId.length + r.username.length + (r.framedIp?.length ?? 0) + (r.callingStationId?.length ?? 0) + (r.nasPortId?.length ?? 0) + (r.terminateCause?.length ?? 0) + (r.delegatedPrefix?.length ?? 0);
    if (buf.length - at < FIXED_BYTES + 14 + strings * 3) return -1;
    const flags =
      (item.subscriberId !== null ? F_SUBSCRIBER : 0) |
      (r.framedIp !== null ? F_FRAMED_IP : 0) |
      (r.callingStationId !== null ? F_CALLING : 0) |
      (r.nasPortId !== null ? F_NAS_PORT : 0) |
      (r.terminateCause !== null ? F_CAUSE : 0) |
      (r.delegatedPrefix ? F_DELEGATED : 0);
    buf[at] = BIN_V2;
    buf[at + 1] = acctStatusCode[r.status];
    buf[at + 2] = flags;
    buf.writeUInt32BE(item.routerId, at + 3);
    buf.writeInt32BE(item.subscriberId ?? 0, at + 7);
    buf.writeDoubleBE(item.receivedAtMs, at + 11);
    buf.writeUInt32BE(r.sessionTimeS, at + 19);
    buf.writeBigUInt64BE(r.inputOctets, at + 23);
    buf.writeBigUInt64BE(r.outputOctets, at + 31);
    buf.writeUInt32BE(r.delayTimeS, at + 39);
    let p = putString(buf, at + FIXED_BYTES, r.acctSessionId);
    p = putString(buf, p, r.username);
    if (r.framedIp !== null) p = putString(buf, p, r.framedIp);
    if (r.callingStationId !== null) p = putString(buf, p, r.callingStationId);
    if (r.nasPortId !== null) p = putString(buf, p, r.nasPortId);
    if (r.terminateCause !== null) p = putString(buf, p, r.terminateCause);
    if (r.delegatedPrefix) p = putString(buf, p, r.delegatedPrefix);
    return p;
  },

  decode(body) {
    if (body[0] === 0x7b) return fromSpooled(JSON.parse(body.toString("utf8")) as LegacySpooledRecord);
    if (body[0] !== BIN_V2 || body.length < FIXED_BYTES) throw new Error(`unknown accounting spool record (first byte ${body[0]}, ${body.length} bytes)`);
    const status = statusByCode.get(body[1]!);
    if (!status) throw new Error(`accounting spool record with unknown status ${body[1]}`);
    const flags = body[2]!;
    let p = FIXED_BYTES;
    const str = (): string => {
      const n = body.readUInt16BE(p);
      const end = p + 2 + n;
      if (end > body.length) throw new Error("accounting spool record cut short");
      const s = body.toString("utf8", p + 2, end);
      p = end;
      return s;
    };
    const acctSessionId = str();
    const username = str();
    const framedIp = flags & F_FRAMED_IP ? str() : null;
    const callingStationId = flags & F_CALLING ? str() : null;
    const nasPortId = flags & F_NAS_PORT ? str() : null;
    const terminateCause = flags & F_CAUSE ? str() : null;
    const delegatedPrefix = flags & F_DELEGATED ? str() : null;
    return {
      routerId: body.readUInt32BE(3),
      subscriberId: flags & F_SUBSCRIBER ? body.readInt32BE(7) : null,
      receivedAtMs: body.readDoubleBE(11),
      rec: {
        status,
        acctSessionId,
        username,
        sessionTimeS: body.readUInt32BE(19),
        inputOctets: body.readBigUInt64BE(23),
        outputOctets: body.readBigUInt64BE(31),
        framedIp,
        callingStationId,
        nasPortId,
        terminateCause,
        delayTimeS: body.readUInt32BE(39),
        ...(delegatedPrefix !== null ? { delegatedPrefix } : {}),
      },
    };
  },
};

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
  // 50 ms (decision 27): an ack well inside a NAS's retransmit timer (RouterOS: 300 ms by
  // default), and under sustained load the fsynced spool takes over instead of queueing.
  const slowWriteMs = deps.slowWriteMs ?? 50;
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
      const r = await sessions.applyBatch(entries.map((e) => e.payload));
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
      await spool.append(item);
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
  void releaseAllocations(ctx.pool, ended.flatMap((e) => (e.framedIp ? [{ routerId: e.routerId, framedIp: e.framedIp, acctSessionId: e.acctSessionId }] : []))).catch((err: Error) => ctx.log.warn("address lease release failed (the stale-lease sweep retries)", { error: err.message }));
  // IPv6 delegated prefixes: only sessions that had one (no query at all on an IPv4-only network).
  const prefixes = ended.flatMap((e) => (e.delegatedPrefix ? [{ routerId: e.routerId, prefix: e.delegatedPrefix, acctSessionId: e.acctSessionId }] : []));
  if (prefixes.length > 0) {
    void releasePrefixes(ctx.pool, prefixes, "stop").catch((err: Error) => ctx.log.warn("IPv6 prefix release failed (the stale-lease sweep retries)", { error: err.message }));
  }
}
