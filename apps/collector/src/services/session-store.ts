// Keeps radius_sessions current from accounting records and feeds the time-series
// writer. Order per record: read the session's previous totals, enqueue (and await) the
// time-series rows, then upsert the session. If the time-series batch fails or the
// queue is full nothing has changed, so the router's retransmit computes the same delta
// again; records of one session are serialised in-process so a retransmit that arrives
// while the first copy is still in flight sees the updated totals (delta 0).
import type pg from "pg";
import type { TsWriter } from "./ts-writer";

export type AcctStatus = "start" | "stop" | "interim" | "on" | "off";

export interface AcctInput {
  status: AcctStatus;
  acctSessionId: string;
  username: string;
  sessionTimeS: number;
  inputOctets: bigint;
  outputOctets: bigint;
  framedIp: string | null;
  callingStationId: string | null;
  nasPortId: string | null;
  terminateCause: string | null;
  delayTimeS: number;
}

/** RFC 2866 Acct-Status-Type values, as stored in accounting_records.status_type. */
export const acctStatusCode: Record<AcctStatus, number> = { start: 1, stop: 2, interim: 3, on: 7, off: 8 };

export interface SessionStoreCounters {
  starts: number;
  interims: number;
  stops: number;
  nasRestarts: number;
  sessionsClosedByNas: number;
}

export interface SessionStore {
  apply(routerId: number, subscriberId: number | null, rec: AcctInput, receivedAt?: Date): Promise<void>;
  closeAllForRouter(routerId: number, cause: string): Promise<number>;
  readonly counters: SessionStoreCounters;
}

interface PrevRow {
  input_octets: string;
  output_octets: string;
  session_time_s: number;
  last_update_at: Date;
  subscriber_id: number | null;
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

const UPSERT_SQL = `
INSERT INTO radius_sessions AS s
  (router_id, acct_session_id, subscriber_id, username, status, framed_ip, calling_station_id, nas_port_id,
   started_at, last_update_at, stopped_at, session_time_s, input_octets, output_octets, input_bps, output_bps, terminate_cause)
VALUES ($1, $2, $3, $4, $5::session_status, $6::inet, $7, $8,
   $9::timestamptz - make_interval(secs => $10), $9::timestamptz, $11, $10, $12::bigint, $13::bigint, $14::bigint, $15::bigint, $16)
ON CONFLICT (router_id, acct_session_id) DO UPDATE SET
  subscriber_id      = COALESCE(s.subscriber_id, EXCLUDED.subscriber_id),
  framed_ip          = COALESCE(EXCLUDED.framed_ip, s.framed_ip),
  calling_station_id = COALESCE(EXCLUDED.calling_station_id, s.calling_station_id),
  nas_port_id        = COALESCE(EXCLUDED.nas_port_id, s.nas_port_id),
  -- A late interim never reopens a stopped session, and never lowers totals.
  status             = CASE WHEN s.status = 'stopped' THEN s.status ELSE EXCLUDED.status END,
  stopped_at         = COALESCE(s.stopped_at, EXCLUDED.stopped_at),
  terminate_cause    = COALESCE(s.terminate_cause, EXCLUDED.terminate_cause),
  session_time_s     = GREATEST(s.session_time_s, EXCLUDED.session_time_s),
  input_octets       = GREATEST(s.input_octets, EXCLUDED.input_octets),
  output_octets      = GREATEST(s.output_octets, EXCLUDED.output_octets),
  input_bps          = CASE WHEN EXCLUDED.last_update_at >= s.last_update_at THEN EXCLUDED.input_bps ELSE s.input_bps END,
  output_bps         = CASE WHEN EXCLUDED.last_update_at >= s.last_update_at THEN EXCLUDED.output_bps ELSE s.output_bps END,
  last_update_at     = GREATEST(s.last_update_at, EXCLUDED.last_update_at)`;

export function createSessionStore(pool: pg.Pool, writer: TsWriter): SessionStore {
  const counters: SessionStoreCounters = { starts: 0, interims: 0, stops: 0, nasRestarts: 0, sessionsClosedByNas: 0 };
  // Per-session serialisation; the map holds only sessions with a record in flight.
  const tails = new Map<string, Promise<void>>();

  const applyOne = async (routerId: number, subscriberId: number | null, rec: AcctInput, receivedAt: Date) => {
    const time = new Date(receivedAt.getTime() - rec.delayTimeS * 1000);
    const prevRes = await pool.query<PrevRow>(
      "SELECT input_octets::text, output_octets::text, session_time_s, last_update_at, subscriber_id FROM radius_sessions WHERE router_id = $1 AND acct_session_id = $2",
      [routerId, rec.acctSessionId],
    );
    const prev = prevRes.rows[0];
    const prevIn = prev ? BigInt(prev.input_octets) : null;
    const prevOut = prev ? BigInt(prev.output_octets) : null;
    const dIn = sessionDelta(prevIn, rec.inputOctets);
    const dOut = sessionDelta(prevOut, rec.outputOctets);
    // Elapsed by the router's own session clock when it moved; else by wall clock.
    const elapsedMs = prev
      ? rec.sessionTimeS > prev.session_time_s
        ? (rec.sessionTimeS - prev.session_time_s) * 1000
        : time.getTime() - prev.last_update_at.getTime()
      : rec.sessionTimeS * 1000;
    const owner = subscriberId ?? prev?.subscriber_id ?? null;

    await writer.enqueue({
      accounting: [
        {
          time,
          routerId,
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
        },
      ],
      usage: owner !== null && (dIn > 0n || dOut > 0n) ? [{ time, subscriberId: owner, routerId, inputOctets: dIn, outputOctets: dOut }] : [],
    });

    const stopped = rec.status === "stop";
    await pool.query(UPSERT_SQL, [
      routerId,
      rec.acctSessionId,
      owner,
      rec.username,
      stopped ? "stopped" : "active",
      rec.framedIp,
      rec.callingStationId,
      rec.nasPortId,
      time,
      rec.sessionTimeS,
      stopped ? time : null,
      rec.inputOctets.toString(),
      rec.outputOctets.toString(),
      stopped ? "0" : bps(dIn, elapsedMs).toString(),
      stopped ? "0" : bps(dOut, elapsedMs).toString(),
      rec.terminateCause,
    ]);
    if (rec.status === "start") counters.starts++;
    else if (rec.status === "stop") counters.stops++;
    else counters.interims++;
  };

  return {
    apply(routerId, subscriberId, rec, receivedAt = new Date()) {
      const key = `${routerId}\u0000${rec.acctSessionId}`;
      const prior = tails.get(key) ?? Promise.resolve();
      const run = prior.catch(() => undefined).then(() => applyOne(routerId, subscriberId, rec, receivedAt));
      const tail = run.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return run;
    },
    async closeAllForRouter(routerId, cause) {
      const r = await pool.query(
        `UPDATE radius_sessions SET status = 'stopped', stopped_at = now(), terminate_cause = COALESCE(terminate_cause, $2),
                input_bps = 0, output_bps = 0
          WHERE router_id = $1 AND status = 'active'`,
        [routerId, cause],
      );
      counters.nasRestarts++;
      counters.sessionsClosedByNas += r.rowCount ?? 0;
      return r.rowCount ?? 0;
    },
    counters,
  };
}
