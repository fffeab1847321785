// PostgreSQL side of the NAT ingest: one transaction per batch (COPY into nat_log and the
// quarantine rows together, so a batch retried from the spool is either wholly there or
// not at all) on the ingest's own small pool, apart from the RADIUS pool.
import type pg from "pg";
import { insertNatLog, insertNatQuarantine, sessionAt } from "@isp/db/nat-log";
import type { NatDb } from "./nat-store";

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
      // Same rule as the in-memory index (nat-resolver.ts): closed at both ends, the sender's
      // router first, then the later start; the span lets a hit feed the index.
      const hit = await sessionAt(pool, privateIp, time, { routerId });
      return hit ? { routerId: hit.routerId, acctSessionId: hit.acctSessionId, subscriberId: hit.subscriberId, start: hit.startedAt, stop: hit.stoppedAt } : null;
    },
  };
}
