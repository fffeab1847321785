// The database side of the live hub: cheap queries run once per tick (index on
// radius_sessions(status, started_at) and (subscriber_id, status)).
import type pg from "pg";
import type { LiveStateSource, NocState, SubscriberSessionState } from "./live-hub";
import type { RouterHealth } from "./reconciler";

function healthOf(h: RouterHealth | undefined): Pick<NocState["routers"][number], "api" | "apiError" | "reconciledAt" | "repairs"> {
  return h ? { api: h.api, apiError: h.apiError, reconciledAt: h.reconciledAt, repairs: h.repairs } : {};
}

/** Newest sessions shown on the NOC wall. */
export const nocNewestMax = 15;

export function createLiveQueries(deps: {
  pool: pg.Pool;
  counters: () => NocState["counters"];
  routerLastSeen: (routerId: number) => Date | undefined;
  /** Reconciliation's view of the router (API login, last seen, repairs); absent when off. */
  routerHealth?: (routerId: number) => RouterHealth | undefined;
  rateLimit: (plan: { downloadKbps: number; uploadKbps: number }) => string;
}): LiveStateSource {
  const { pool } = deps;
  return {
    async nocState() {
      const [online, routers, newest, stale] = await Promise.all([
        pool.query<{ n: string }>("SELECT count(*)::text AS n FROM radius_sessions WHERE status = 'active'"),
        pool.query<{ id: number; name: string; online: string; input_bps: string; output_bps: string }>(
          `SELECT r.id, r.name, count(s.id)::text AS online,
                  COALESCE(sum(s.input_bps), 0)::text AS input_bps, COALESCE(sum(s.output_bps), 0)::text AS output_bps
             FROM routers r LEFT JOIN radius_sessions s ON s.router_id = r.id AND s.status = 'active'
            WHERE r.active
            GROUP BY r.id, r.name ORDER BY r.name`,
        ),
        pool.query<{
          id: string;
          subscriber_id: number | null;
          account_no: string | null;
          name: string | null;
          username: string;
          router_name: string;
          framed_ip: string | null;
          started_at: Date;
        }>(
          `SELECT s.id::text, s.subscriber_id, sub.account_no, sub.name, s.username, r.name AS router_name,
                  host(s.framed_ip) AS framed_ip, s.started_at
             FROM radius_sessions s
             JOIN routers r ON r.id = s.router_id
             LEFT JOIN subscribers sub ON sub.id = s.subscriber_id
            WHERE s.status = 'active'
            ORDER BY s.started_at DESC, s.id DESC
            LIMIT ${nocNewestMax}`,
        ),
        pool.query<{ n: string }>("SELECT count(*)::text AS n FROM radius_sessions WHERE status = 'stale'"),
      ]);
      return {
        at: new Date().toISOString(),
        online: Number(online.rows[0]?.n ?? 0),
        routers: routers.rows.map((r) => ({
          id: r.id,
          name: r.name,
          online: Number(r.online),
          inputBps: r.input_bps,
          outputBps: r.output_bps,
          lastSeenAt: deps.routerLastSeen(r.id)?.toISOString() ?? null,
          ...healthOf(deps.routerHealth?.(r.id)),
        })),
        newest: newest.rows.map((s) => ({
          sessionId: s.id,
          subscriberId: s.subscriber_id,
          accountNo: s.account_no,
          name: s.name,
          username: s.username,
          routerName: s.router_name,
          framedIp: s.framed_ip,
          startedAt: s.started_at.toISOString(),
        })),
        counters: deps.counters(),
        stale: Number(stale.rows[0]?.n ?? 0),
      };
    },

    async subscriberSessions(ids) {
      const r = await pool.query<{
        subscriber_id: number;
        id: string;
        router_name: string;
        acct_session_id: string;
        framed_ip: string | null;
        calling_station_id: string | null;
        started_at: Date;
        last_update_at: Date;
        input_octets: string;
        output_octets: string;
        input_bps: string;
        output_bps: string;
        download_kbps: number;
        upload_kbps: number;
      }>(
        `SELECT DISTINCT ON (s.subscriber_id)
                s.subscriber_id, s.id::text, r.name AS router_name, s.acct_session_id, host(s.framed_ip) AS framed_ip,
                s.calling_station_id, s.started_at, s.last_update_at, s.input_octets::text, s.output_octets::text,
                s.input_bps::text, s.output_bps::text, p.download_kbps, p.upload_kbps
           FROM radius_sessions s
           JOIN routers r ON r.id = s.router_id
           JOIN subscribers sub ON sub.id = s.subscriber_id
           JOIN plans p ON p.id = sub.plan_id
          WHERE s.subscriber_id = ANY($1::int[]) AND s.status = 'active'
          ORDER BY s.subscriber_id, s.started_at DESC`,
        [ids],
      );
      const byId = new Map(r.rows.map((row) => [row.subscriber_id, row]));
      return ids.map((subscriberId): SubscriberSessionState => {
        const s = byId.get(subscriberId);
        if (!s) return { subscriberId, session: null };
        return {
          subscriberId,
          session: {
            id: s.id,
            routerName: s.router_name,
            acctSessionId: s.acct_session_id,
            framedIp: s.framed_ip,
            callingStationId: s.calling_station_id,
            startedAt: s.started_at.toISOString(),
            lastUpdateAt: s.last_update_at.toISOString(),
            inputOctets: s.input_octets,
            outputOctets: s.output_octets,
            inputBps: s.input_bps,
            outputBps: s.output_bps,
            rateLimit: deps.rateLimit({ downloadKbps: s.download_kbps, uploadKbps: s.upload_kbps }),
          },
        };
      });
    },

    async subscriberDealer(subscriberId) {
      const r = await pool.query<{ dealer_id: number | null }>("SELECT dealer_id FROM subscribers WHERE id = $1", [subscriberId]);
      const row = r.rows[0];
      return row ? row.dealer_id : undefined;
    },
  };
}
