// radius_sessions + accounting_records + subscriber_usage from accounting records, on a
// real PostgreSQL through the real batched writer.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { createPgTsSink } from "./ts-sink";
import { createTsWriter, type TsWriter } from "./ts-writer";
import { createSessionStore, type AcctInput, type SessionStore } from "./session-store";

let db: TestDatabase;
let pool: pg.Pool;
let writer: TsWriter;
let store: SessionStore;
let routerId: number;
let subscriberId: number;

const rec = (over: Partial<AcctInput>): AcctInput => ({
  status: "interim",
  acctSessionId: "S-1",
  username: "u1",
  sessionTimeS: 0,
  inputOctets: 0n,
  outputOctets: 0n,
  framedIp: "10.0.0.5",
  callingStationId: "AA:BB:CC:00:11:22",
  nasPortId: "ether1",
  terminateCause: null,
  delayTimeS: 0,
  ...over,
});

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 20 });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  writer = createTsWriter(createPgTsSink(pool), { flushIntervalMs: 10 });
  store = createSessionStore(pool, writer);
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers ORDER BY id LIMIT 1")).rows[0]!.id;
  subscriberId = (await pool.query<{ id: number }>("SELECT id FROM subscribers ORDER BY id LIMIT 1")).rows[0]!.id;
});

afterAll(async () => {
  await writer?.stop();
  await pool?.end();
  await db?.drop();
});

const session = async (acctSessionId: string) =>
  (
    await pool.query<{ status: string; input_octets: string; output_octets: string; session_time_s: number; output_bps: string; terminate_cause: string | null; stopped_at: Date | null }>(
      "SELECT status, input_octets::text, output_octets::text, session_time_s, output_bps::text, terminate_cause, stopped_at FROM radius_sessions WHERE router_id = $1 AND acct_session_id = $2",
      [routerId, acctSessionId],
    )
  ).rows[0];

describe("session store", () => {
  it("Start / Interim / Stop keep one row current, with 64-bit totals, bps, and time-series rows", async () => {
    const big = 5n * 2n ** 32n + 123n; // beyond 32 bits: gigawords were combined upstream
    await store.apply(routerId, subscriberId, rec({ status: "start" }));
    expect(await session("S-1")).toMatchObject({ status: "active", input_octets: "0" });

    await store.apply(routerId, subscriberId, rec({ sessionTimeS: 10, inputOctets: 1000n, outputOctets: 10_000n }));
    expect(await session("S-1")).toMatchObject({ output_octets: "10000", session_time_s: 10, output_bps: "8000" });

    await store.apply(routerId, subscriberId, rec({ sessionTimeS: 20, inputOctets: 2000n, outputOctets: big }));
    expect((await session("S-1"))!.output_octets).toBe(big.toString());

    // A late duplicate of the first interim never lowers totals nor adds usage.
    await store.apply(routerId, subscriberId, rec({ sessionTimeS: 10, inputOctets: 1000n, outputOctets: 10_000n }));
    expect((await session("S-1"))!.output_octets).toBe(big.toString());

    await store.apply(routerId, subscriberId, rec({ status: "stop", sessionTimeS: 25, inputOctets: 2500n, outputOctets: big + 7n, terminateCause: "User-Request" }));
    const s = await session("S-1");
    expect(s).toMatchObject({ status: "stopped", terminate_cause: "User-Request", output_octets: (big + 7n).toString() });
    expect(s!.stopped_at).toBeInstanceOf(Date);

    // A late interim after Stop does not reopen the session.
    await store.apply(routerId, subscriberId, rec({ sessionTimeS: 21, inputOctets: 2100n, outputOctets: big }));
    expect((await session("S-1"))!.status).toBe("stopped");

    const ar = await pool.query<{ n: string; max_out: string }>(
      "SELECT count(*)::text AS n, max(output_octets)::text AS max_out FROM accounting_records WHERE router_id = $1 AND acct_session_id = 'S-1'",
      [routerId],
    );
    expect(ar.rows[0]).toEqual({ n: "6", max_out: (big + 7n).toString() });
    const usage = await pool.query<{ i: string; o: string }>(
      "SELECT sum(input_octets)::text AS i, sum(output_octets)::text AS o FROM subscriber_usage WHERE subscriber_id = $1",
      [subscriberId],
    );
    // Sum of deltas equals the final totals: nothing double counted, nothing negative.
    expect(usage.rows[0]).toEqual({ i: "2500", o: (big + 7n).toString() });
  });

  it("concurrent retransmits of one record count its usage once", async () => {
    await store.apply(routerId, subscriberId, rec({ status: "start", acctSessionId: "S-2" }));
    const r = rec({ acctSessionId: "S-2", sessionTimeS: 5, inputOctets: 500n, outputOctets: 700n });
    await Promise.all([store.apply(routerId, subscriberId, r), store.apply(routerId, subscriberId, r), store.apply(routerId, subscriberId, r)]);
    const usage = await pool.query<{ o: string }>(
      "SELECT sum(u.output_octets)::text AS o FROM subscriber_usage u WHERE u.subscriber_id = $1 AND u.time >= (SELECT started_at FROM radius_sessions WHERE acct_session_id = 'S-2')",
      [subscriberId],
    );
    expect(usage.rows[0]!.o).toBe("700");
  });

  it("Accounting-On closes every open session of that router", async () => {
    await store.apply(routerId, subscriberId, rec({ status: "start", acctSessionId: "S-3" }));
    const closed = await store.closeAllForRouter(routerId, "NAS-Reboot");
    expect(closed).toBeGreaterThanOrEqual(2);
    expect(await session("S-3")).toMatchObject({ status: "stopped", terminate_cause: "NAS-Reboot" });
  });
});
