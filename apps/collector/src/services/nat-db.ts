// PostgreSQL side of the NAT ingest: one transaction per batch (COPY into nat_log and the
// quarantine rows together, so a batch retried from the spool is either wholly there or
// not at all) on the ingest's own small pool, apart from the RADIUS pool.
import type pg from "pg";
import { insertNatLog, insertNatQuarantine } from "@isp/db/nat-log";
import type { NatDb } from "./nat-store";

// Same rule as the in-memory index (nat-resolver.ts) and @isp/db's sessionAt: closed at
// both ends, the sender's router first, then the later start. Ours also returns the span,
// so that a hit can feed the index.
const SESSION_AT_SQL = `
SELECT router_id, acct_session_id, subscriber_id, started_at, stopped_at
  FROM radius_sessions
 WHERE framed_ip = $1::inet AND started_at <= $2 AND (stopped_at IS NULL OR stopped_at >= $2)
 ORDER BY (router_id = $3::int) IS TRUE DESC, started_at DESC, id DESC
 LIMIT 1`;

export function createPgNatDb(pool: pg.Pool, opts: { statementTimeoutMs?: number } = {}): NatDb {
  const statementTimeoutMs = Math.max(100, Math.round(opts.statementTimeoutMs ?? 30_000));
  return {
    async write(rows, quarantine) {
      const client = await pool.connect();
      let failed: Error | undefined;
      try {
        await client.query("BEGIN");
        await client.query(`SET LOCAL statement_timeout = ${statementTimeoutMs}`);
        if (rows.length > 0) await insertNatLog(client, rows);
        if (quarantine.length > 0) await insertNatQuarantine(client, quarantine);
        await client.query("COMMIT");
      } catch (err) {
        failed = err as Error;
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        // A client that failed mid-COPY (or lost its server) is not reused.
        client.release(failed);
      }
    },
    async sessionAt(privateIp, time, routerId = null) {
      const r = await pool.query<{ router_id: number; acct_session_id: string; subscriber_id: number | null; started_at: Date; stopped_at: Date | null }>(
        SESSION_AT_SQL,
        [privateIp, time, routerId],
      );
      const row = r.rows[0];
      return row
        ? { routerId: row.router_id, acctSessionId: row.acct_session_id, subscriberId: row.subscriber_id, start: row.started_at, stop: row.stopped_at }
        : null;
    },
  };
}
