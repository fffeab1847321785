// Open sessions per subscriber, in memory, for the simultaneous-use check: the common
// Access-Request then needs no database round trip. Loaded once from radius_sessions
// (status active) and kept current by the session store AFTER each commit (sessionsActive
// for Start/Interim, sessionsEnded for Stop, Accounting-On/Off and the stale sweep), so it
// follows what is durable in the database, spool replays included.
//
// It is a hint, never the last word: the auth service asks the database whenever the
// index says a subscriber is at or over the limit (a close done outside the collector,
// e.g. the reconciler's zombie repair, is not seen here), and whenever the index is not
// authoritative: before load() finished, or after it outgrew sessionsMax (it then drops
// its contents and every check goes to the database, as before the index existed).
import type pg from "pg";

export interface OpenSession {
  routerId: number;
  callingStationId: string | null;
}

/** A session the store committed as active (Start, Interim, or an update of a stale one). */
export interface ActiveSession extends OpenSession {
  acctSessionId: string;
  subscriberId: number | null;
}

export interface ClosedSession {
  routerId: number;
  acctSessionId: string;
  subscriberId: number | null;
}

export interface OpenSessionIndex {
  /** The subscriber's open sessions, or null when the index cannot answer (ask the database). */
  of(subscriberId: number): OpenSession[] | null;
  opened(sessions: readonly ActiveSession[]): void;
  closed(sessions: readonly ClosedSession[]): void;
  /** Reads the active sessions; commits reported while it runs are applied after it, in order. */
  load(pool: Pick<pg.Pool, "query">): Promise<void>;
  readonly state: "empty" | "loading" | "ready" | "overflow";
  readonly size: number;
}

/** Default bound: ~100 bytes a session, so about 100 MB at the limit. */
export const openSessionsMaxDefault = 1_000_000;

type Event = { kind: "open"; s: readonly ActiveSession[] } | { kind: "close"; s: readonly ClosedSession[] };

export function createOpenSessionIndex(opts: { sessionsMax?: number; onOverflow?: (size: number) => void } = {}): OpenSessionIndex {
  const sessionsMax = opts.sessionsMax ?? openSessionsMaxDefault;
  let state: OpenSessionIndex["state"] = "empty";
  let size = 0;
  let bySubscriber = new Map<number, Map<string, OpenSession>>();
  // Commits reported during load, replayed on top of the snapshot (bounded like the index).
  let pending: Event[] = [];
  let pendingSessions = 0;

  const key = (routerId: number, acctSessionId: string) => `${routerId}\u0000${acctSessionId}`;

  const overflow = () => {
    state = "overflow";
    bySubscriber = new Map();
    pending = [];
    pendingSessions = 0;
    opts.onOverflow?.(size);
    size = 0;
  };

  const add = (subscriberId: number, routerId: number, acctSessionId: string, callingStationId: string | null) => {
    let m = bySubscriber.get(subscriberId);
    if (!m) bySubscriber.set(subscriberId, (m = new Map()));
    const k = key(routerId, acctSessionId);
    if (!m.has(k)) size++;
    m.set(k, { routerId, callingStationId });
  };

  const applyOpen = (sessions: readonly ActiveSession[]) => {
    for (const s of sessions) if (s.subscriberId !== null) add(s.subscriberId, s.routerId, s.acctSessionId, s.callingStationId);
    if (size > sessionsMax) overflow();
  };

  const applyClose = (sessions: readonly ClosedSession[]) => {
    for (const s of sessions) {
      if (s.subscriberId === null) continue;
      const m = bySubscriber.get(s.subscriberId);
      if (m?.delete(key(s.routerId, s.acctSessionId))) size--;
      if (m && m.size === 0) bySubscriber.delete(s.subscriberId);
    }
  };

  const defer = (e: Event) => {
    pending.push(e);
    pendingSessions += e.s.length;
    if (pendingSessions > sessionsMax) overflow();
  };

  return {
    of(subscriberId) {
      if (state !== "ready") return null;
      const m = bySubscriber.get(subscriberId);
      return m ? [...m.values()] : [];
    },
    opened(sessions) {
      if (sessions.length === 0) return;
      if (state === "ready") applyOpen(sessions);
      else if (state === "loading") defer({ kind: "open", s: sessions });
    },
    closed(sessions) {
      if (sessions.length === 0) return;
      if (state === "ready") applyClose(sessions);
      else if (state === "loading") defer({ kind: "close", s: sessions });
    },
    async load(pool) {
      if (state !== "empty") return;
      state = "loading";
      try {
        const r = await pool.query<{ subscriber_id: number; router_id: number; acct_session_id: string; calling_station_id: string | null }>(
          `SELECT subscriber_id, router_id, acct_session_id, calling_station_id FROM radius_sessions
            WHERE status = 'active' AND subscriber_id IS NOT NULL LIMIT $1`,
          [sessionsMax + 1],
        );
        if ((state as OpenSessionIndex["state"]) === "overflow") return;
        if (r.rows.length > sessionsMax) {
          size = r.rows.length;
          overflow();
          return;
        }
        for (const row of r.rows) add(row.subscriber_id, row.router_id, row.acct_session_id, row.calling_station_id);
        state = "ready";
        const events = pending;
        pending = [];
        pendingSessions = 0;
        for (const e of events) {
          if (e.kind === "open") applyOpen(e.s);
          else applyClose(e.s);
          if ((state as OpenSessionIndex["state"]) !== "ready") return;
        }
      } catch (err) {
        // Not authoritative: the database answers every check, as before.
        state = "empty";
        bySubscriber = new Map();
        size = 0;
        pending = [];
        pendingSessions = 0;
        throw err;
      }
    },
    get state() {
      return state;
    },
    get size() {
      return size;
    },
  };
}
