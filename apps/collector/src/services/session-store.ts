// Keeps radius_sessions current from accounting records and writes the time-series rows
// (accounting_records, subscriber_usage), all in ONE transaction per batch, so a record is
// either wholly applied or not at all.
//
// Exactly-once without a dedupe table: a record is applied only if it moves its session
// forward (longer Acct-Session-Time, more octets, or a first Stop). A retransmit, a resend
// with a new Identifier/Acct-Delay-Time, a replay of a spooled record that had already
// committed, or a late interim moves nothing and is skipped: no usage, no raw row, no
// counter change. Deltas are taken against the stored session maxima, so they are never
// negative and their sum equals the session's final totals. Batches hold a transaction
// advisory lock, so two writers (a slow direct batch that finally commits, and the spool
// replay of the same records) see each other's results instead of racing.
import type pg from "pg";
import { insertAccountingRecords, insertUsageDeltas, type AccountingRecordRow, type UsageDeltaRow } from "@isp/db/timeseries";
import { BinaryCopyWriter, copyBinary } from "@isp/db/pg-copy";
import type { ActiveSession } from "./open-sessions";
import { createBatchWriter, PreviousBatchFailedError, type BatchContext, type BatchWriter, type TsWriterConfig } from "./ts-writer";

export type AcctStatus = "start" | "stop" | "interim" | "on" | "off";

export interface AcctInput {
  status: AcctStatus;
  acctSessionId: string;
  username: string;
  sessionTimeS: number;
  inputOctets: bigint;
  outputOctets: bigint;
  framedIp: string | null;
  /** Delegated-IPv6-Prefix the NAS reported ("2400:abcd:12:3400::/56"); absent = not reported. */
  delegatedPrefix?: string | null;
  callingStationId: string | null;
  nasPortId: string | null;
  terminateCause: string | null;
  delayTimeS: number;
}

/** One accounting record as the store applies it (and as the spool keeps it). */
export interface AcctItem {
  routerId: number;
  /** From the subscriber cache; null = resolve by username inside the transaction. */
  subscriberId: number | null;
  rec: AcctInput;
  /** When the collector received it (ms); the record's time is this minus Acct-Delay-Time. */
  receivedAtMs: number;
}

/** A session that ended (Stop, Accounting-On/Off, stale): its address can be released. */
export interface EndedSession {
  routerId: number;
  acctSessionId: string;
  subscriberId: number | null;
  framedIp: string | null;
  /** The session's delegated IPv6 prefix (its lease is released with the address). */
  delegatedPrefix?: string | null;
  cause: string;
}

/** RFC 2866 Acct-Status-Type values, as stored in accounting_records.status_type. */
export const acctStatusCode: Record<AcctStatus, number> = { start: 1, stop: 2, interim: 3, on: 7, off: 8 };

export interface SessionStoreCounters {
  starts: number;
  interims: number;
  stops: number;
  /** Records that moved nothing (duplicates, resends, late interims, replays of committed records). */
  duplicates: number;
  nasRestarts: number;
  sessionsClosedByNas: number;
  staleMarked: number;
}

export interface ApplyResult {
  applied: number;
  duplicates: number;
  ended: EndedSession[];
}

export interface SessionStore {
  /** Batched with other records; resolves when the batch holding it committed. */
  apply(routerId: number, subscriberId: number | null, rec: AcctInput, receivedAt?: Date): Promise<void>;
  /** Same, for an item built by the caller (the accounting service). */
  enqueue(item: AcctItem): Promise<void>;
  /** Applies items in order in one transaction now (spool replay). */
  applyBatch(items: readonly AcctItem[]): Promise<ApplyResult>;
  /** Accounting-On/Off: closes the router's sessions last updated before `at`. */
  closeAllForRouter(routerId: number, cause: string, at?: Date): Promise<number>;
  /** Marks active sessions without an update for staleAfterS as stale; returns them. */
  markStale(staleAfterS: number): Promise<EndedSession[]>;
  /** Drains queued records. */
  stop(): Promise<void>;
  readonly queued: number;
  readonly counters: SessionStoreCounters;
}

/**
 * Octets since the stored totals of this session. Within one Acct-Session-Id the
 * counters only grow (a NAS restart starts new session ids), so a lower value is a late
 * or duplicate packet and adds nothing (unlike @isp/db's usageDelta, which reads it as a
 * counter reset).
 */
export function sessionDelta(previous: bigint | null, current: bigint): bigint {
  if (current <= 0n) return 0n;
  if (previous === null) return current;
  return current > previous ? current - previous : 0n;
}

/** Bits per second over an interval; 0 when the interval is unknown or empty. */
export function bps(deltaOctets: bigint, elapsedMs: number): bigint {
  if (elapsedMs <= 0 || deltaOctets <= 0n) return 0n;
  return (deltaOctets * 8000n) / BigInt(Math.round(elapsedMs));
}

type SessionStatus = "active" | "stopped" | "stale";

interface SessionState {
  subscriberId: number | null;
  username: string;
  status: SessionStatus;
  framedIp: string | null;
  delegatedPrefix: string | null;
  callingStationId: string | null;
  nasPortId: string | null;
  startedAt: Date;
  lastUpdateAt: Date;
  stoppedAt: Date | null;
  sessionTimeS: number;
  inputOctets: bigint;
  outputOctets: bigint;
  inputBps: bigint;
  outputBps: bigint;
  terminateCause: string | null;
}

/**
 * Whether `rec` moves the session forward; anything else was already applied (or is
 * older than what was) and must change nothing.
 */
export function advances(s: Pick<SessionState, "sessionTimeS" | "inputOctets" | "outputOctets" | "status"> | undefined, rec: AcctInput): boolean {
  if (!s) return true;
  return rec.sessionTimeS > s.sessionTimeS || rec.inputOctets > s.inputOctets || rec.outputOctets > s.outputOctets || (rec.status === "stop" && s.status !== "stopped");
}

/** Serialises accounting transactions across connections and processes. */
const APPLY_LOCK_KEY = 7_263_001;

const SELECT_SESSIONS_SQL = `
SELECT s.router_id, s.acct_session_id, s.subscriber_id, s.username, s.status::text AS status, host(s.framed_ip) AS framed_ip,
       s.delegated_ipv6_prefix::text AS delegated_ipv6_prefix, s.calling_station_id, s.nas_port_id,
       -- Milliseconds as float8 (exact for timestamptz(3)): a number per column, no date text to parse.
       (extract(epoch FROM s.started_at) * 1000)::float8 AS started_ms, (extract(epoch FROM s.last_update_at) * 1000)::float8 AS last_update_ms,
       (extract(epoch FROM s.stopped_at) * 1000)::float8 AS stopped_ms, s.session_time_s,
       s.input_octets::text, s.output_octets::text, s.input_bps::text, s.output_bps::text, s.terminate_cause
  FROM radius_sessions s
  JOIN unnest($1::int[], $2::text[]) AS k(router_id, acct_session_id)
    ON s.router_id = k.router_id AND s.acct_session_id = k.acct_session_id`;

interface SessionRow {
  router_id: number;
  acct_session_id: string;
  subscriber_id: number | null;
  username: string;
  status: SessionStatus;
  framed_ip: string | null;
  delegated_ipv6_prefix: string | null;
  calling_station_id: string | null;
  nas_port_id: string | null;
  started_ms: number;
  last_update_ms: number;
  stopped_ms: number | null;
  session_time_s: number;
  input_octets: string;
  output_octets: string;
  input_bps: string;
  output_bps: string;
  terminate_cause: string | null;
}

// Session rows of a batch go to a per-connection temporary table by binary COPY (ON
// COMMIT DELETE ROWS: empty again after every commit or rollback), then into
// radius_sessions with one INSERT ... SELECT. The table is created outside any
// transaction, so a rollback never drops it.
const STAGE_TABLE = "acct_session_stage";

const STAGE_COLUMNS = [
  "router_id",
  "acct_session_id",
  "subscriber_id",
  "username",
  "status",
  "framed_ip",
  "delegated_ipv6_prefix",
  "calling_station_id",
  "nas_port_id",
  "started_at",
  "last_update_at",
  "stopped_at",
  "session_time_s",
  "input_octets",
  "output_octets",
  "input_bps",
  "output_bps",
  "terminate_cause",
  "is_new",
] as const;
const CREATE_STAGE_SQL = `
CREATE TEMP TABLE IF NOT EXISTS ${STAGE_TABLE} (
  router_id int NOT NULL, acct_session_id text NOT NULL, subscriber_id int, username text NOT NULL, status text NOT NULL,
  framed_ip inet, delegated_ipv6_prefix text, calling_station_id text, nas_port_id text, started_at timestamptz NOT NULL, last_update_at timestamptz NOT NULL,
  stopped_at timestamptz, session_time_s int NOT NULL, input_octets bigint NOT NULL, output_octets bigint NOT NULL,
  input_bps bigint NOT NULL, output_bps bigint NOT NULL, terminate_cause text, is_new int NOT NULL
) ON COMMIT DELETE ROWS`;

// The state was computed under the advisory lock, so it is written as is; GREATEST and the
// 'stopped' rule only guard against writers that do not take the lock.
// A new active session whose NAS did not report Delegated-IPv6-Prefix takes the prefix its
// Accept handed out: the subscriber's newest open lease on that NAS, else its static
// prefix. Looked up once per session (its first record), never for interims.
const UPSERT_SESSIONS_SQL = `
INSERT INTO radius_sessions AS s
  (router_id, acct_session_id, subscriber_id, username, status, framed_ip, delegated_ipv6_prefix, calling_station_id, nas_port_id,
   started_at, last_update_at, stopped_at, session_time_s, input_octets, output_octets, input_bps, output_bps, terminate_cause)
SELECT st.router_id, st.acct_session_id, st.subscriber_id, st.username, st.status::session_status, st.framed_ip,
       COALESCE(st.delegated_ipv6_prefix::inet,
                CASE WHEN st.is_new = 1 AND st.status = 'active' AND st.subscriber_id IS NOT NULL THEN
                  COALESCE((SELECT l.prefix FROM ipv6_leases l
                             WHERE l.subscriber_id = st.subscriber_id AND l.closed_at IS NULL AND l.router_id = st.router_id
                             ORDER BY l.granted_at DESC LIMIT 1),
                           (SELECT x.static_ipv6_prefix FROM subscribers x WHERE x.id = st.subscriber_id)) END),
       st.calling_station_id, st.nas_port_id,
       st.started_at, st.last_update_at, st.stopped_at, st.session_time_s, st.input_octets, st.output_octets, st.input_bps, st.output_bps, st.terminate_cause
  FROM ${STAGE_TABLE} st
ON CONFLICT (router_id, acct_session_id) DO UPDATE SET
  subscriber_id      = EXCLUDED.subscriber_id,
  framed_ip          = EXCLUDED.framed_ip,
  delegated_ipv6_prefix = COALESCE(EXCLUDED.delegated_ipv6_prefix, s.delegated_ipv6_prefix),
  calling_station_id = EXCLUDED.calling_station_id,
  nas_port_id        = EXCLUDED.nas_port_id,
  status             = CASE WHEN s.status = 'stopped' THEN s.status ELSE EXCLUDED.status END,
  started_at         = LEAST(s.started_at, EXCLUDED.started_at),
  stopped_at         = COALESCE(s.stopped_at, EXCLUDED.stopped_at),
  terminate_cause    = COALESCE(s.terminate_cause, EXCLUDED.terminate_cause),
  session_time_s     = GREATEST(s.session_time_s, EXCLUDED.session_time_s),
  input_octets       = GREATEST(s.input_octets, EXCLUDED.input_octets),
  output_octets      = GREATEST(s.output_octets, EXCLUDED.output_octets),
  input_bps          = EXCLUDED.input_bps,
  output_bps         = EXCLUDED.output_bps,
  last_update_at     = GREATEST(s.last_update_at, EXCLUDED.last_update_at)`;

const key = (routerId: number, acctSessionId: string) => `${routerId}\u0000${acctSessionId}`;

function fromRow(r: SessionRow): SessionState {
  return {
    subscriberId: r.subscriber_id,
    username: r.username,
    status: r.status,
    framedIp: r.framed_ip,
    delegatedPrefix: r.delegated_ipv6_prefix,
    callingStationId: r.calling_station_id,
    nasPortId: r.nas_port_id,
    startedAt: new Date(r.started_ms),
    lastUpdateAt: new Date(r.last_update_ms),
    stoppedAt: r.stopped_ms === null ? null : new Date(r.stopped_ms),
    sessionTimeS: r.session_time_s,
    inputOctets: BigInt(r.input_octets),
    outputOctets: BigInt(r.output_octets),
    inputBps: BigInt(r.input_bps),
    outputBps: BigInt(r.output_bps),
    terminateCause: r.terminate_cause,
  };
}

export interface SessionStoreOptions {
  writer?: Partial<TsWriterConfig>;
  /** Called after the commit that ended these sessions (Stop, Accounting-On/Off, stale). */
  onEnded?: (ended: EndedSession[]) => void;
  /** Called after a commit, before onEnded, with the sessions it left active (Start, Interim). */
  onActive?: (active: ActiveSession[]) => void;
  onDroppedUsage?: (n: number) => void;
  /** Per statement inside an accounting transaction; a hung database fails the batch. */
  statementTimeoutMs?: number;
}

export function createSessionStore(pool: pg.Pool, options: SessionStoreOptions = {}): SessionStore {
  const counters: SessionStoreCounters = { starts: 0, interims: 0, stops: 0, duplicates: 0, nasRestarts: 0, sessionsClosedByNas: 0, staleMarked: 0 };
  const statementTimeoutMs = Math.max(100, Math.round(options.statementTimeoutMs ?? 15_000));
  // Connections that already have the staging table (a discarded connection drops out).
  const staged = new WeakSet<pg.PoolClient>();

  // After the commit: a throwing hook must not make a committed batch look failed.
  const notifyEnded = (ended: EndedSession[]) => {
    try {
      options.onEnded?.(ended);
    } catch {
      // The hook logs its own failures; nothing to undo here.
    }
  };
  const notifyActive = (active: ActiveSession[]) => {
    try {
      options.onActive?.(active);
    } catch {
      // As above.
    }
  };

  /** `beforeCommit`: SQL (no parameters) that work() leaves to run with COMMIT, in one round trip. */
  const inTransaction = async <R>(work: (c: pg.PoolClient, tx: { beforeCommit: string | null }) => Promise<R>, order?: BatchContext): Promise<R> => {
    const client = await pool.connect();
    // A connection lost between two statements is reported as an event, not by a query;
    // the next query fails anyway, so the event must not become an uncaught exception.
    const onError = () => undefined;
    client.on("error", onError);
    let failure: Error | undefined;
    try {
      if (!staged.has(client)) {
        await client.query(CREATE_STAGE_SQL);
        staged.add(client);
      }
      // One round trip (simple protocol, no parameters); lock_timeout bounds the lock wait,
      // which starts inside this same message.
      await client.query(
        `BEGIN; SET LOCAL statement_timeout = ${statementTimeoutMs}; SET LOCAL lock_timeout = ${statementTimeoutMs}; SELECT pg_advisory_xact_lock(${APPLY_LOCK_KEY})`,
      );
      // Pipelined (direct writes): this transaction was begun while the previous batch was
      // committing; the lock was granted once that one ended. If it failed, so does this one,
      // so that no record is committed ahead of an earlier one that was not.
      if (order) {
        try {
          await order.previous;
        } catch (err) {
          throw new PreviousBatchFailedError(err);
        }
      }
      const tx = { beforeCommit: null as string | null };
      const out = await work(client, tx);
      // The next batch may connect and queue for the lock now; it reads after this commit.
      order?.overlap();
      await client.query(tx.beforeCommit ? `${tx.beforeCommit};\nCOMMIT` : "COMMIT");
      return out;
    } catch (err) {
      failure = err as Error;
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.off("error", onError);
      // After a failure the connection may be dead: discard it rather than pool it.
      client.release(failure);
    }
  };

  /** Session records (no On/Off) of one batch segment, in order. */
  const applySessions = async (
    c: pg.PoolClient,
    items: readonly AcctItem[],
    out: { acct: AccountingRecordRow[]; usage: UsageDeltaRow[]; ended: EndedSession[]; active: ActiveSession[]; tally: Tally; tx: { beforeCommit: string | null } },
  ) => {
    const keys = new Map<string, [number, string]>();
    for (const it of items) keys.set(key(it.routerId, it.rec.acctSessionId), [it.routerId, it.rec.acctSessionId]);
    const ks = [...keys.values()];
    const rows = await c.query<SessionRow>(SELECT_SESSIONS_SQL, [ks.map((k) => k[0]), ks.map((k) => k[1])]);
    const state = new Map<string, SessionState>();
    for (const r of rows.rows) state.set(key(r.router_id, r.acct_session_id), fromRow(r));

    // Records whose subscriber the cache did not know, and whose session has no owner yet.
    const unknown = new Set<string>();
    for (const it of items) {
      if (it.subscriberId === null && state.get(key(it.routerId, it.rec.acctSessionId))?.subscriberId == null) unknown.add(it.rec.username);
    }
    const owners = new Map<string, number>();
    if (unknown.size > 0) {
      const r = await c.query<{ id: number; pppoe_username: string }>("SELECT id, pppoe_username FROM subscribers WHERE pppoe_username = ANY($1::text[])", [[...unknown]]);
      for (const row of r.rows) owners.set(row.pppoe_username, row.id);
    }

    const dirty = new Set<string>();
    // Sessions this segment creates (no stored row): their IPv6 prefix may come from the Accept.
    const fresh = new Set<string>();
    for (const it of items) {
      const rec = it.rec;
      const k = key(it.routerId, rec.acctSessionId);
      const prev = state.get(k);
      if (!advances(prev, rec)) {
        out.tally.duplicates++;
        continue;
      }
      const time = new Date(it.receivedAtMs - rec.delayTimeS * 1000);
      const owner = prev?.subscriberId ?? it.subscriberId ?? owners.get(rec.username) ?? null;
      const dIn = sessionDelta(prev ? prev.inputOctets : null, rec.inputOctets);
      const dOut = sessionDelta(prev ? prev.outputOctets : null, rec.outputOctets);
      // Elapsed by the router's own session clock when it moved; else by wall clock.
      const elapsedMs = prev
        ? rec.sessionTimeS > prev.sessionTimeS
          ? (rec.sessionTimeS - prev.sessionTimeS) * 1000
          : time.getTime() - prev.lastUpdateAt.getTime()
        : rec.sessionTimeS * 1000;
      const stopped = rec.status === "stop" || prev?.status === "stopped";
      const next: SessionState = {
        subscriberId: owner,
        username: prev?.username ?? rec.username,
        status: stopped ? "stopped" : "active",
        framedIp: rec.framedIp ?? prev?.framedIp ?? null,
        delegatedPrefix: rec.delegatedPrefix ?? prev?.delegatedPrefix ?? null,
        callingStationId: rec.callingStationId ?? prev?.callingStationId ?? null,
        nasPortId: rec.nasPortId ?? prev?.nasPortId ?? null,
        startedAt: prev?.startedAt ?? new Date(time.getTime() - rec.sessionTimeS * 1000),
        lastUpdateAt: prev && prev.lastUpdateAt > time ? prev.lastUpdateAt : time,
        stoppedAt: prev?.stoppedAt ?? (rec.status === "stop" ? time : null),
        sessionTimeS: Math.max(prev?.sessionTimeS ?? 0, rec.sessionTimeS),
        inputOctets: prev && prev.inputOctets > rec.inputOctets ? prev.inputOctets : rec.inputOctets,
        outputOctets: prev && prev.outputOctets > rec.outputOctets ? prev.outputOctets : rec.outputOctets,
        inputBps: stopped ? 0n : bps(dIn, elapsedMs),
        outputBps: stopped ? 0n : bps(dOut, elapsedMs),
        terminateCause: prev?.terminateCause ?? rec.terminateCause,
      };
      if (!prev) fresh.add(k);
      state.set(k, next);
      dirty.add(k);
      out.acct.push({
        time,
        routerId: it.routerId,
        acctSessionId: rec.acctSessionId,
        subscriberId: owner,
        username: rec.username,
        statusType: acctStatusCode[rec.status],
        sessionTimeS: rec.sessionTimeS,
        inputOctets: rec.inputOctets,
        outputOctets: rec.outputOctets,
        framedIp: rec.framedIp,
        terminateCause: rec.terminateCause,
        delayTimeS: rec.delayTimeS,
      });
      if (owner !== null && (dIn > 0n || dOut > 0n)) out.usage.push({ time, subscriberId: owner, routerId: it.routerId, inputOctets: dIn, outputOctets: dOut });
      if (rec.status === "stop" && prev?.status !== "stopped") {
        out.ended.push({ routerId: it.routerId, acctSessionId: rec.acctSessionId, subscriberId: owner, framedIp: next.framedIp, delegatedPrefix: next.delegatedPrefix, cause: rec.terminateCause ?? "Stop" });
      }
      if (!stopped && owner !== null) out.active.push({ routerId: it.routerId, acctSessionId: rec.acctSessionId, subscriberId: owner, callingStationId: next.callingStationId });
      if (rec.status === "start") out.tally.starts++;
      else if (rec.status === "stop") out.tally.stops++;
      else out.tally.interims++;
    }
    if (dirty.size === 0) return;
    const w = new BinaryCopyWriter(dirty.size * 200);
    for (const k of dirty) {
      const s = state.get(k)!;
      const [routerId, acctSessionId] = keys.get(k)!;
      w.row(STAGE_COLUMNS.length);
      w.int4(routerId);
      w.text(acctSessionId);
      w.int4(s.subscriberId);
      w.text(s.username);
      w.text(s.status);
      w.inet(s.framedIp);
      w.text(s.delegatedPrefix); // "addr/len": text, cast in the upsert (the COPY inet writer takes host addresses)
      w.text(s.callingStationId);
      w.text(s.nasPortId);
      w.time(s.startedAt);
      w.time(s.lastUpdateAt);
      w.time(s.stoppedAt);
      w.int4(s.sessionTimeS);
      w.int8(s.inputOctets);
      w.int8(s.outputOctets);
      w.int8(s.inputBps);
      w.int8(s.outputBps);
      w.text(s.terminateCause);
      w.int4(fresh.has(k) ? 1 : 0);
    }
    await copyBinary(c, STAGE_TABLE, STAGE_COLUMNS, w.finish());
    // The upsert runs with COMMIT (or before an Accounting-On/Off, which must see it).
    out.tx.beforeCommit = UPSERT_SESSIONS_SQL;
  };

  /** Runs a staged upsert now (an Accounting-On/Off follows) and empties the stage for the next segment. */
  const flushStaged = async (c: pg.PoolClient, tx: { beforeCommit: string | null }) => {
    if (!tx.beforeCommit) return;
    await c.query(`${tx.beforeCommit};\nDELETE FROM ${STAGE_TABLE}`);
    tx.beforeCommit = null;
  };

  /** Accounting-On/Off: a Stop-like raw row for each session it closes. */
  const applyNas = async (c: pg.PoolClient, routerId: number, cause: string, at: Date, out: { acct: AccountingRecordRow[]; ended: EndedSession[] }): Promise<number> => {
    // Only sessions last heard of before the reboot: a late or resent Accounting-On must
    // not close sessions the router opened after it came back.
    const r = await c.query<{ acct_session_id: string; subscriber_id: number | null; username: string; session_time_s: number; input_octets: string; output_octets: string; framed_ip: string | null; delegated_ipv6_prefix: string | null }>(
      `UPDATE radius_sessions SET status = 'stopped', stopped_at = $3, terminate_cause = COALESCE(terminate_cause, $2), input_bps = 0, output_bps = 0
        WHERE router_id = $1 AND status IN ('active', 'stale') AND last_update_at <= $3
        RETURNING acct_session_id, subscriber_id, username, session_time_s, input_octets::text, output_octets::text, host(framed_ip) AS framed_ip,
                  delegated_ipv6_prefix::text AS delegated_ipv6_prefix`,
      [routerId, cause, at],
    );
    for (const s of r.rows) {
      out.acct.push({
        time: at,
        routerId,
        acctSessionId: s.acct_session_id,
        subscriberId: s.subscriber_id,
        username: s.username,
        statusType: acctStatusCode.stop,
        sessionTimeS: s.session_time_s,
        inputOctets: BigInt(s.input_octets),
        outputOctets: BigInt(s.output_octets),
        framedIp: s.framed_ip,
        terminateCause: cause,
        delayTimeS: 0,
      });
      out.ended.push({ routerId, acctSessionId: s.acct_session_id, subscriberId: s.subscriber_id, framedIp: s.framed_ip, delegatedPrefix: s.delegated_ipv6_prefix, cause });
    }
    return r.rows.length;
  };

  interface Tally {
    starts: number;
    interims: number;
    stops: number;
    duplicates: number;
    nasRestarts: number;
    closedByNas: number;
  }

  const applyBatch = async (items: readonly AcctItem[], order?: BatchContext): Promise<ApplyResult> => {
    if (items.length === 0) return { applied: 0, duplicates: 0, ended: [] };
    const tally: Tally = { starts: 0, interims: 0, stops: 0, duplicates: 0, nasRestarts: 0, closedByNas: 0 };
    const result = await inTransaction(async (c, tx) => {
      const out = { acct: [] as AccountingRecordRow[], usage: [] as UsageDeltaRow[], ended: [] as EndedSession[], active: [] as ActiveSession[], tally, tx };
      // Segments of session records, split at Accounting-On/Off so those see (and close)
      // exactly the sessions recorded before them.
      let segment: AcctItem[] = [];
      for (const it of items) {
        if (it.rec.status === "on" || it.rec.status === "off") {
          await applySessions(c, segment, out);
          await flushStaged(c, tx);
          segment = [];
          const at = new Date(it.receivedAtMs - it.rec.delayTimeS * 1000);
          tally.closedByNas += await applyNas(c, it.routerId, it.rec.status === "on" ? "NAS-Reboot" : "NAS-Request", at, out);
          tally.nasRestarts++;
        } else {
          segment.push(it);
        }
      }
      if (segment.length > 0) await applySessions(c, segment, out);
      if (out.acct.length > 0) await insertAccountingRecords(c, out.acct);
      if (out.usage.length > 0) {
        const { dropped } = await insertUsageDeltas(c, out.usage);
        if (dropped > 0) options.onDroppedUsage?.(dropped);
      }
      return out;
    }, order);
    counters.starts += tally.starts;
    counters.interims += tally.interims;
    counters.stops += tally.stops;
    counters.duplicates += tally.duplicates;
    counters.nasRestarts += tally.nasRestarts;
    counters.sessionsClosedByNas += tally.closedByNas;
    // Active first: a session opened and closed (Accounting-On) in one batch ends closed.
    if (result.active.length > 0) notifyActive(result.active);
    if (result.ended.length > 0) notifyEnded(result.ended);
    return { applied: items.length - tally.duplicates, duplicates: tally.duplicates, ended: result.ended };
  };

  const writer: BatchWriter<AcctItem> = createBatchWriter<AcctItem>(
    async (items, order) => {
      await applyBatch(items, order);
    },
    () => 1,
    // Group commit: a batch goes with what arrived while the previous one was written.
    // Pipelined: it begins (connection, BEGIN, lock wait) while the previous one commits.
    { groupCommit: true, pipeline: true, ...options.writer },
  );

  return {
    apply(routerId, subscriberId, rec, receivedAt = new Date()) {
      return writer.enqueue({ routerId, subscriberId, rec, receivedAtMs: receivedAt.getTime() });
    },
    enqueue: (item) => writer.enqueue(item),
    applyBatch,
    async closeAllForRouter(routerId, cause, at = new Date()) {
      const before = counters.sessionsClosedByNas;
      const status: AcctStatus = cause === "NAS-Request" ? "off" : "on";
      await writer.enqueue({
        routerId,
        subscriberId: null,
        rec: { status, acctSessionId: "", username: "", sessionTimeS: 0, inputOctets: 0n, outputOctets: 0n, framedIp: null, callingStationId: null, nasPortId: null, terminateCause: null, delayTimeS: 0 },
        receivedAtMs: at.getTime(),
      });
      return counters.sessionsClosedByNas - before;
    },
    async markStale(staleAfterS) {
      const rows = await inTransaction((c) =>
        c.query<{ router_id: number; acct_session_id: string; subscriber_id: number | null; framed_ip: string | null; delegated_ipv6_prefix: string | null }>(
          `UPDATE radius_sessions SET status = 'stale', input_bps = 0, output_bps = 0
            WHERE status = 'active' AND last_update_at < now() - make_interval(secs => $1)
            RETURNING router_id, acct_session_id, subscriber_id, host(framed_ip) AS framed_ip, delegated_ipv6_prefix::text AS delegated_ipv6_prefix`,
          [staleAfterS],
        ),
      );
      const ended = rows.rows.map((r) => ({
        routerId: r.router_id,
        acctSessionId: r.acct_session_id,
        subscriberId: r.subscriber_id,
        framedIp: r.framed_ip,
        delegatedPrefix: r.delegated_ipv6_prefix,
        cause: "Stale",
      }));
      counters.staleMarked += ended.length;
      if (ended.length > 0) notifyEnded(ended);
      return ended;
    },
    stop: () => writer.stop(),
    get queued() {
      return writer.queuedRows;
    },
    counters,
  };
}
