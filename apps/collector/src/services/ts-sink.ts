// The PostgreSQL sink of the batched writer: one transaction per batch, one multi-row
// INSERT per table (the @isp/db helpers chunk at insertRowsMax rows to stay under the
// bind-parameter limit). All-or-nothing, so a rejected flush promise means nothing landed.
import type pg from "pg";
import { insertAccountingRecords, insertUsageDeltas } from "@isp/db/timeseries";
import type { TsSink } from "./ts-writer";

export function createPgTsSink(pool: pg.Pool, onDroppedUsage?: (n: number) => void): TsSink {
  return async (batch) => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      if (batch.accounting.length > 0) await insertAccountingRecords(client, batch.accounting);
      if (batch.usage.length > 0) {
        const { dropped } = await insertUsageDeltas(client, batch.usage);
        if (dropped > 0) onDroppedUsage?.(dropped);
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
}
