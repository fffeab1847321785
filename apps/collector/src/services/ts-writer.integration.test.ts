// The batched writer with its PostgreSQL sink: large batches are chunked under the
// bind-parameter limit, and a failing batch lands nothing (so no ACK was a correct answer).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createPgTsSink } from "./ts-sink";
import { createTsWriter, type AccountingRow, type UsageRow } from "./ts-writer";

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const acct = (i: number, session: string): AccountingRow => ({
  time: new Date(),
  routerId: 1,
  acctSessionId: session,
  subscriberId: null,
  username: `u${i}`,
  statusType: 3,
  sessionTimeS: i,
  inputOctets: 2n ** 33n + BigInt(i),
  outputOctets: BigInt(i),
  framedIp: "10.0.0.1",
  terminateCause: null,
  delayTimeS: 0,
});
const usage = (i: number): UsageRow => ({ time: new Date(), subscriberId: i, routerId: 1, inputOctets: 1n, outputOctets: 2n });
const count = async (table: string, where = "true") =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`)).rows[0]!.n;

describe("ts-writer -> PostgreSQL", () => {
  it("writes thousands of rows from many enqueues in few flushes, with 64-bit values intact", async () => {
    const w = createTsWriter(createPgTsSink(pool), { flushIntervalMs: 20, batchRowsMax: 5000, queueRowsMax: 20_000 });
    await Promise.all(Array.from({ length: 2500 }, (_, i) => w.enqueue({ accounting: [acct(i, "BULK")], usage: [usage(i)] })));
    expect(await count("accounting_records", "acct_session_id = 'BULK'")).toBe(2500);
    expect(await count("subscriber_usage")).toBe(2500);
    expect(w.counters.flushes).toBeLessThanOrEqual(3);
    const max = await pool.query<{ m: string }>("SELECT max(input_octets)::text AS m FROM accounting_records WHERE acct_session_id = 'BULK'");
    expect(max.rows[0]!.m).toBe((2n ** 33n + 2499n).toString());
    await w.stop();
  });

  it("a batch that fails lands nothing, and every enqueue of it is rejected", async () => {
    const w = createTsWriter(createPgTsSink(pool), { flushIntervalMs: 20, batchRowsMax: 100, queueRowsMax: 100 });
    const good = w.enqueue({ accounting: [acct(1, "ATOMIC")] });
    // NOT NULL violation on subscriber_usage.subscriber_id, in the same batch.
    const bad = w.enqueue({ usage: [{ ...usage(1), subscriberId: null as unknown as number }] });
    await expect(good).rejects.toThrow();
    await expect(bad).rejects.toThrow();
    expect(await count("accounting_records", "acct_session_id = 'ATOMIC'")).toBe(0);
    await w.enqueue({ accounting: [acct(2, "ATOMIC")] });
    expect(await count("accounting_records", "acct_session_id = 'ATOMIC'")).toBe(1);
    await w.stop();
  });
});
