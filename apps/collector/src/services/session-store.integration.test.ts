// radius_sessions + accounting_records + subscriber_usage from accounting records, on a
// real PostgreSQL through the real batched writer.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { usageBuckets } from "@isp/db/timeseries";
import { createSessionStore, type AcctInput, type AcctItem, type SessionStore } from "./session-store";

let db: TestDatabase;
let pool: pg.Pool;
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
  store = createSessionStore(pool, { writer: { flushIntervalMs: 10 } });
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers ORDER BY id LIMIT 1")).rows[0]!.id;
  subscriberId = (await pool.query<{ id: number }>("SELECT id FROM subscribers ORDER BY id LIMIT 1")).rows[0]!.id;
});

afterAll(async () => {
  await store?.stop();
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
    // Start, two interims, Stop: the late duplicate and the interim after Stop moved nothing.
    expect(ar.rows[0]).toEqual({ n: "4", max_out: (big + 7n).toString() });
    expect(store.counters.duplicates).toBe(2);
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

  it("a resend with a new Acct-Delay-Time, and a replay of the same batch in parallel, change nothing twice", async () => {
    const t0 = Date.now();
    const item = (over: Partial<AcctInput>, receivedAtMs: number): AcctItem => ({ routerId, subscriberId, rec: rec({ acctSessionId: "S-4", ...over }), receivedAtMs });
    await store.applyBatch([item({ status: "start" }, t0)]);
    const interim = item({ sessionTimeS: 60, inputOctets: 100n, outputOctets: 900n }, t0 + 60_000);
    // The router resent it 7 s later with Acct-Delay-Time 7: same content, same record time.
    const resent = item({ sessionTimeS: 60, inputOctets: 100n, outputOctets: 900n, delayTimeS: 7 }, t0 + 67_000);
    const [a, b] = await Promise.all([store.applyBatch([interim]), store.applyBatch([interim, resent])]);
    expect(a.applied + b.applied).toBe(1);
    expect(a.duplicates + b.duplicates).toBe(2);
    const rows = await pool.query<{ n: number; t: Date }>(
      "SELECT count(*)::int AS n, max(time) AS t FROM accounting_records WHERE router_id = $1 AND acct_session_id = 'S-4' AND status_type = 3",
      [routerId],
    );
    expect(rows.rows[0]!.n).toBe(1);
    expect(rows.rows[0]!.t.getTime()).toBe(t0 + 60_000);
    const usage = await pool.query<{ o: string }>(
      "SELECT sum(output_octets)::text AS o FROM subscriber_usage WHERE subscriber_id = $1 AND time >= $2",
      [subscriberId, new Date(t0)],
    );
    expect(usage.rows[0]!.o).toBe("900");
  });

  it("Acct-Delay-Time moves the record time back; a late interim never lowers totals and usage buckets stay exact", async () => {
    const other = (await pool.query<{ id: number }>("SELECT id FROM subscribers ORDER BY id OFFSET 1 LIMIT 1")).rows[0]!.id;
    const username = (await pool.query<{ u: string }>("SELECT pppoe_username AS u FROM subscribers WHERE id = $1", [other])).rows[0]!.u;
    // Aligned to an hour so the 5-minute buckets are predictable.
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    const it5 = (sessionTimeS: number, out: bigint, receivedAtMs: number, delayTimeS = 0): AcctItem => ({
      routerId,
      subscriberId: null, // not in the cache: resolved by username in the transaction
      rec: rec({ acctSessionId: "S-5", username, status: sessionTimeS === 0 ? "start" : "interim", sessionTimeS, outputOctets: out, delayTimeS }),
      receivedAtMs,
    });
    await store.applyBatch([it5(0, 0n, base)]);
    // Interim at +5 min arrives only at +11 min (delay 360 s), after the +10 min one.
    await store.applyBatch([it5(600, 3000n, base + 600_000)]);
    await store.applyBatch([it5(300, 1000n, base + 660_000, 360)]);
    const s = await session("S-5");
    expect(s).toMatchObject({ output_octets: "3000", session_time_s: 600, status: "active" });
    const times = await pool.query<{ t: Date }>("SELECT time AS t FROM accounting_records WHERE acct_session_id = 'S-5' ORDER BY time");
    // The late interim moved nothing, so it left no row; the others are at their own times.
    expect(times.rows.map((r) => r.t.getTime() - base)).toEqual([0, 600_000]);
    const delayed = await store.applyBatch([it5(900, 4000n, base + 960_000, 60)]);
    expect(delayed.applied).toBe(1);
    const last = await pool.query<{ t: Date }>("SELECT max(time) AS t FROM accounting_records WHERE acct_session_id = 'S-5'");
    expect(last.rows[0]!.t.getTime() - base).toBe(900_000);

    await pool.query("SELECT refresh_usage_5min($1::timestamptz, $2::timestamptz)", [new Date(base - 600_000), new Date(base + 3_600_000)]);
    const five = await usageBuckets(pool, { subscriberId: other, from: new Date(base), to: new Date(base + 3_600_000), bucket: "5 minutes" });
    expect(five.map((b) => [b.bucket.getTime() - base, b.outputOctets])).toEqual([
      [600_000, 3000n],
      [900_000, 1000n],
    ]);
    const hour = await usageBuckets(pool, { subscriberId: other, from: new Date(base), to: new Date(base + 3_600_000), bucket: "1 hour" });
    expect(hour.map((b) => b.outputOctets)).toEqual([4000n]);
    const day = await usageBuckets(pool, { subscriberId: other, from: new Date(base - 86_400_000), to: new Date(base + 86_400_000), bucket: "1 day" });
    expect(day.reduce((sum, b) => sum + b.outputOctets, 0n)).toBe(4000n);
  });

  it("Accounting-On closes only sessions heard of before it, with Stop rows, and reports them ended", async () => {
    const ended: string[] = [];
    const local = createSessionStore(pool, { writer: { flushIntervalMs: 5 }, onEnded: (e) => ended.push(...e.map((x) => `${x.acctSessionId}:${x.cause}`)) });
    try {
      const t = Date.now();
      const on = (receivedAtMs: number): AcctItem => ({ routerId, subscriberId: null, rec: rec({ status: "on", acctSessionId: "", username: "" }), receivedAtMs });
      await local.applyBatch([
        { routerId, subscriberId, rec: rec({ status: "interim", acctSessionId: "S-6", sessionTimeS: 30, outputOctets: 10n }), receivedAtMs: t - 1000 },
        on(t),
        // Opened after the reboot: a resent Accounting-On must not close it.
        { routerId, subscriberId, rec: rec({ status: "start", acctSessionId: "S-7" }), receivedAtMs: t + 1000 },
      ]);
      expect(await session("S-6")).toMatchObject({ status: "stopped", terminate_cause: "NAS-Reboot" });
      await local.applyBatch([on(t)]);
      expect((await session("S-7"))!.status).toBe("active");
      expect(ended).toContain("S-6:NAS-Reboot");
      expect(ended.filter((e) => e.startsWith("S-7:"))).toEqual([]);
      const stopRow = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM accounting_records WHERE acct_session_id = 'S-6' AND status_type = 2 AND terminate_cause = 'NAS-Reboot'");
      expect(stopRow.rows[0]!.n).toBe(1);

      // Stale sweep: no accounting for the threshold; an interim brings it back.
      await pool.query("UPDATE radius_sessions SET last_update_at = now() - interval '10 minutes' WHERE acct_session_id = 'S-7'");
      const stale = await local.markStale(180);
      expect(stale.map((s) => s.acctSessionId)).toContain("S-7");
      expect((await session("S-7"))!.status).toBe("stale");
      expect(ended).toContain("S-7:Stale");
      await local.applyBatch([{ routerId, subscriberId, rec: rec({ acctSessionId: "S-7", sessionTimeS: 700 }), receivedAtMs: Date.now() }]);
      expect((await session("S-7"))!.status).toBe("active");
    } finally {
      await local.stop();
    }
  });
});
