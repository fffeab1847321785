// Who held a private IP at a given time, for NAT lines at ingest. An in-memory index of
// RADIUS sessions per framed IP (loaded at start from radius_sessions, then fed by the
// accounting path through observeSessions), with the database (sessionAt) behind it for
// misses. Intervals are closed at both ends: a line stamped before a session's start or
// after its stop never resolves to it. When two sessions match (an IP reassigned while
// the old session's Stop was lost), the later start wins.
import type pg from "pg";
import type { AcctHandler } from "./radius-types";

export interface SessionHit {
  subscriberId: number | null;
  acctSessionId: string;
  routerId: number;
}

interface Interval extends SessionHit {
  startMs: number;
  /** null while the session is open. */
  stopMs: number | null;
}

export interface SessionIndexConfig {
  /** Distinct framed IPs kept; the least recently updated go first. */
  ipsMax: number;
  /** Sessions kept per IP (newest kept). */
  perIpMax: number;
}

export const defaultSessionIndexConfig: SessionIndexConfig = { ipsMax: 200_000, perIpMax: 8 };

export interface SessionIndex {
  /** A session's known span; called again as it moves (interim) and when it stops. */
  observe(ip: string, s: SessionHit & { start: Date; stop: Date | null }): void;
  /** Closes the open sessions of a router (Accounting-On/Off) at `at`. */
  closeRouter(routerId: number, at: Date): void;
  lookup(ip: string, time: Date, preferRouterId?: number | null): SessionHit | null;
  /**
   * From when the index knows every session (set after a complete warm load, pushed later
   * when per-IP history is trimmed, cleared when an IP is evicted): a miss for a line at or
   * after it means "no session", so the database need not be asked. Null: not known.
   */
  readonly coveredSince: Date | null;
  setCoveredSince(since: Date | null): void;
  readonly size: number;
}

export function createSessionIndex(config: Partial<SessionIndexConfig> = {}): SessionIndex {
  const cfg = { ...defaultSessionIndexConfig, ...config };
  // Map iteration order is insertion order: re-inserting on update makes it an LRU.
  const byIp = new Map<string, Interval[]>();
  let coveredSinceMs: number | null = null;
  return {
    observe(ip, s) {
      const list = byIp.get(ip) ?? [];
      byIp.delete(ip);
      const startMs = s.start.getTime();
      const stopMs = s.stop ? s.stop.getTime() : null;
      const same = list.find((x) => x.routerId === s.routerId && x.acctSessionId === s.acctSessionId);
      if (same) {
        // Start is fixed by the first record; a later record only extends or stops it.
        same.startMs = Math.min(same.startMs, startMs);
        if (stopMs !== null) same.stopMs = same.stopMs === null ? stopMs : Math.max(same.stopMs, stopMs);
        if (s.subscriberId !== null) same.subscriberId = s.subscriberId;
      } else {
        list.push({ subscriberId: s.subscriberId, acctSessionId: s.acctSessionId, routerId: s.routerId, startMs, stopMs });
        list.sort((a, b) => a.startMs - b.startMs);
        if (list.length > cfg.perIpMax) {
          for (const dropped of list.splice(0, list.length - cfg.perIpMax)) {
            // This IP's history before the dropped session's end is no longer known.
            if (coveredSinceMs !== null) coveredSinceMs = Math.max(coveredSinceMs, (dropped.stopMs ?? Date.now()) + 1);
          }
        }
      }
      byIp.set(ip, list);
      while (byIp.size > cfg.ipsMax) {
        const oldest = byIp.keys().next().value;
        if (oldest === undefined) break;
        byIp.delete(oldest);
        coveredSinceMs = null;
      }
    },
    closeRouter(routerId, at) {
      const t = at.getTime();
      for (const list of byIp.values()) for (const x of list) if (x.routerId === routerId && x.stopMs === null && x.startMs <= t) x.stopMs = t;
    },
    lookup(ip, time, preferRouterId = null) {
      const list = byIp.get(ip);
      if (!list) return null;
      const t = time.getTime();
      let best: Interval | null = null;
      let bestSameRouter: Interval | null = null;
      for (const x of list) {
        if (x.startMs > t || (x.stopMs !== null && t > x.stopMs)) continue;
        if (!best || x.startMs >= best.startMs) best = x;
        if (x.routerId === preferRouterId && (!bestSameRouter || x.startMs >= bestSameRouter.startMs)) bestSameRouter = x;
      }
      const hit = bestSameRouter ?? best;
      return hit ? { subscriberId: hit.subscriberId, acctSessionId: hit.acctSessionId, routerId: hit.routerId } : null;
    },
    get coveredSince() {
      return coveredSinceMs === null ? null : new Date(coveredSinceMs);
    },
    setCoveredSince(since) {
      coveredSinceMs = since === null ? null : since.getTime();
    },
    get size() {
      return byIp.size;
    },
  };
}

/**
 * Loads sessions that were open at or after `since` (the index's warm start). When they all
 * fit, the index covers everything from `since` on (coveredSince).
 */
export async function loadRecentSessions(pool: pg.Pool, index: SessionIndex, since: Date, rowsMax: number): Promise<number> {
  const r = await pool.query<{ ip: string; router_id: number; acct_session_id: string; subscriber_id: number | null; started_at: Date; stopped_at: Date | null }>(
    `SELECT host(framed_ip) AS ip, router_id, acct_session_id, subscriber_id, started_at, stopped_at
       FROM radius_sessions
      WHERE framed_ip IS NOT NULL AND (stopped_at IS NULL OR stopped_at >= $1)
      ORDER BY started_at DESC
      LIMIT $2`,
    [since, rowsMax],
  );
  // Trimming or eviction while loading narrows or clears this again.
  index.setCoveredSince(since);
  // Oldest first, so the LRU keeps the newest when the limit bites.
  for (const row of r.rows.reverse()) {
    index.observe(row.ip, {
      routerId: row.router_id,
      acctSessionId: row.acct_session_id,
      subscriberId: row.subscriber_id,
      start: row.started_at,
      stop: row.stopped_at,
    });
  }
  if (r.rows.length >= rowsMax) index.setCoveredSince(null);
  return r.rows.length;
}

/**
 * The accounting hook: wraps the accounting handler so that each record the store has
 * committed (the handler answered "ack") updates the index. Wrapping the handler, not the
 * store, keeps this independent of how the store batches. Start time is derived as the
 * store does (event time minus Acct-Session-Time).
 */
export function observeAccounting(
  handler: AcctHandler,
  index: SessionIndex,
  resolve: { routerId(sourceIp: string): number | undefined; subscriberId(username: string): number | null },
): AcctHandler {
  return async (req) => {
    const receivedAt = Date.now();
    const answer = await handler(req);
    if (answer !== "ack") return answer;
    const routerId = resolve.routerId(req.sourceIp);
    if (routerId === undefined) return answer;
    const rec = req.record;
    const time = receivedAt - rec.delayTimeS * 1000;
    if (rec.status === "on" || rec.status === "off") index.closeRouter(routerId, new Date(time));
    else if (rec.framedIp) {
      index.observe(rec.framedIp, {
        routerId,
        acctSessionId: rec.acctSessionId,
        subscriberId: resolve.subscriberId(rec.username),
        start: new Date(time - rec.sessionTimeS * 1000),
        stop: rec.status === "stop" ? new Date(time) : null,
      });
    }
    return answer;
  };
}
