// Time-series tables (accounting_records, subscriber_usage, usage_5min). The SQL lives in
// ../timeseries/{timescale,plain}; everything here works on either flavour and on any
// client with a `query(text, params)` method (pg Pool/Client, PGlite).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BinaryCopyWriter, canCopy, copyBinary } from "./pg-copy";

export interface QueryResultLike<R> {
  rows: R[];
}

export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResultLike<R>>;
}

/** Runs a script of several statements (pg's simple protocol; PGlite's `exec`). */
export interface ScriptRunner {
  runScript(sql: string): Promise<void>;
}

export type TimeseriesFlavour = "timescale" | "plain";

const timeseriesDir = join(dirname(fileURLToPath(import.meta.url)), "..", "timeseries");

/** 13 columns x 1,000 rows stays far below PostgreSQL's 65,535 bind parameters. */
export const insertRowsMax = 1000;
/** The plain rollup re-aggregates this far back so late interim updates are counted. */
export const rollupLookbackMinutes = 60;
/** Partitions the plain flavour keeps ready ahead of now. */
export const partitionsAhead = "3 months";

export interface TimeseriesFile {
  name: string;
  sql: string;
  checksum: string;
}

export function timeseriesFiles(flavour: TimeseriesFlavour): TimeseriesFile[] {
  const dir = join(timeseriesDir, flavour);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

/**
 * TimescaleDB when its extension is installed on the server AND preloaded (an installed
 * but not preloaded extension fails at CREATE EXTENSION), or already created.
 */
export async function detectFlavour(q: Queryable): Promise<TimeseriesFlavour> {
  const r = await q.query<{ available: boolean; usable: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
            (EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
             OR coalesce(current_setting('shared_preload_libraries', true), '') LIKE '%timescaledb%') AS usable`,
  );
  const row = r.rows[0];
  return row?.available && row.usable ? "timescale" : "plain";
}

export const timeseriesTrackingDdl = `CREATE TABLE IF NOT EXISTS _timeseries_migrations (
  name TEXT PRIMARY KEY,
  flavour TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/**
 * Applies the pending time-series files, each in its own transaction, recording them in
 * `_timeseries_migrations`. Once a flavour is recorded it is kept: switching flavours
 * under existing data would need a data migration, not a re-detection.
 * The caller serialises concurrent runs (migrate() holds an advisory lock).
 */
export async function applyTimeseries(
  db: Queryable & ScriptRunner,
  preferred?: TimeseriesFlavour,
): Promise<{ flavour: TimeseriesFlavour; applied: string[] }> {
  await db.runScript(timeseriesTrackingDdl);
  const done = await db.query<{ name: string; flavour: string; checksum: string }>(
    "SELECT name, flavour, checksum FROM _timeseries_migrations ORDER BY name",
  );
  const recorded = done.rows[0]?.flavour as TimeseriesFlavour | undefined;
  const flavour = recorded ?? preferred ?? (await detectFlavour(db));
  const applied: string[] = [];
  for (const file of timeseriesFiles(flavour)) {
    const prior = done.rows.find((r) => r.name === file.name);
    if (prior) {
      if (prior.checksum !== file.checksum) {
        throw new Error(
          `time-series migration ${flavour}/${file.name} was modified after it was applied (checksum ${prior.checksum} != ${file.checksum}); add a new file instead`,
        );
      }
      continue;
    }
    await db.runScript("BEGIN");
    try {
      await db.runScript(file.sql);
      await db.query("INSERT INTO _timeseries_migrations (name, flavour, checksum) VALUES ($1, $2, $3)", [
        file.name,
        flavour,
        file.checksum,
      ]);
      await db.runScript("COMMIT");
    } catch (err) {
      await db.runScript("ROLLBACK");
      throw new Error(`time-series migration ${flavour}/${file.name} failed: ${(err as Error).message}`, { cause: err });
    }
    applied.push(`${flavour}/${file.name}`);
  }
  return { flavour, applied };
}

export async function currentFlavour(q: Queryable): Promise<TimeseriesFlavour | null> {
  const r = await q.query<{ flavour: string | null }>(
    "SELECT (SELECT flavour FROM _timeseries_migrations LIMIT 1) AS flavour WHERE to_regclass('_timeseries_migrations') IS NOT NULL",
  ).catch(() => ({ rows: [] as { flavour: string | null }[] }));
  const f = r.rows[0]?.flavour;
  return f === "timescale" || f === "plain" ? f : null;
}

/**
 * Brings usage_5min up to date for [from, to). TimescaleDB: refresh the continuous
 * aggregate (its policy does this by itself; tests and backfills call it). Plain: the
 * upsert rollup.
 */
export async function refreshUsageRollup(
  q: Queryable,
  flavour: TimeseriesFlavour,
  from: Date,
  to: Date,
): Promise<void> {
  if (flavour === "timescale") {
    await q.query("CALL refresh_continuous_aggregate('usage_5min', $1::timestamptz, $2::timestamptz)", [from, to]);
  } else {
    await q.query("SELECT refresh_usage_5min($1::timestamptz, $2::timestamptz)", [from, to]);
  }
}

/**
 * The collector calls this every minute. Plain flavour: roll the last
 * `rollupLookbackMinutes` into usage_5min, keep partitions ready and drop those past their
 * table's retention (ts_partitioned_tables). TimescaleDB: its
 * own background jobs do both, so nothing to do.
 */
export async function runRollupJob(pool: Queryable, now: Date = new Date()): Promise<{ flavour: TimeseriesFlavour | null }> {
  const flavour = await currentFlavour(pool);
  if (flavour === "plain") {
    await pool.query("SELECT ts_ensure_partitions($1::interval)", [partitionsAhead]);
    await pool.query("SELECT ts_drop_expired_partitions()");
    await refreshUsageRollup(pool, "plain", new Date(now.getTime() - rollupLookbackMinutes * 60_000), now);
  }
  return { flavour };
}

export type UsageBucketWidth = "5 minutes" | "1 hour" | "1 day";

export interface UsageBucket {
  bucket: Date;
  inputOctets: bigint;
  outputOctets: bigint;
}

/**
 * Usage of one subscriber in [from, to), bucketed. Reads usage_5min (continuous
 * aggregate or rollup table), so the newest minute or two may not be there yet. Buckets
 * are UTC-aligned (origin 2000-01-03) in both flavours.
 */
export async function usageBuckets(
  q: Queryable,
  opts: { subscriberId: number; from: Date; to: Date; bucket: UsageBucketWidth },
): Promise<UsageBucket[]> {
  const r = await q.query<{ bucket_ms: string; input_octets: string; output_octets: string }>(
    `SELECT (extract(epoch FROM time_bucket($4::interval, bucket)) * 1000)::bigint::text AS bucket_ms,
            sum(input_octets)::text AS input_octets,
            sum(output_octets)::text AS output_octets
       FROM usage_5min
      WHERE subscriber_id = $1 AND bucket >= $2::timestamptz AND bucket < $3::timestamptz
      GROUP BY time_bucket($4::interval, bucket)
      ORDER BY 1`,
    [opts.subscriberId, opts.from, opts.to, opts.bucket],
  );
  return r.rows.map((row) => ({
    bucket: new Date(Number(row.bucket_ms)),
    inputOctets: BigInt(row.input_octets),
    outputOctets: BigInt(row.output_octets),
  }));
}

export interface AccountingRecordRow {
  time: Date;
  routerId: number;
  acctSessionId: string;
  subscriberId: number | null;
  username: string;
  /** RFC 2866 Acct-Status-Type: 1 Start, 2 Stop, 3 Interim-Update. */
  statusType: number;
  sessionTimeS: number;
  inputOctets: bigint;
  outputOctets: bigint;
  framedIp: string | null;
  terminateCause: string | null;
  delayTimeS: number;
}

export interface UsageDeltaRow {
  time: Date;
  subscriberId: number;
  routerId: number;
  inputOctets: bigint;
  outputOctets: bigint;
}

async function insertChunked<T>(
  q: Queryable,
  table: string,
  columns: string[],
  rows: readonly T[],
  values: (row: T) => unknown[],
): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += insertRowsMax) {
    const chunk = rows.slice(start, start + insertRowsMax);
    const params: unknown[] = [];
    const tuples = chunk.map((row) => {
      const v = values(row);
      const placeholders = v.map((x) => {
        params.push(x);
        return `$${params.length}`;
      });
      return `(${placeholders.join(", ")})`;
    });
    await q.query(`INSERT INTO ${table} (${columns.join(", ")}) VALUES ${tuples.join(", ")}`, params);
    inserted += chunk.length;
  }
  return inserted;
}

const accountingColumns = [
  "time",
  "router_id",
  "acct_session_id",
  "subscriber_id",
  "username",
  "status_type",
  "session_time_s",
  "input_octets",
  "output_octets",
  "framed_ip",
  "terminate_cause",
  "delay_time_s",
];
const usageColumns = ["time", "subscriber_id", "router_id", "input_octets", "output_octets"];

/**
 * On a pg connection (Client or PoolClient): one binary COPY, all or nothing. Elsewhere
 * (a Pool, PGlite): multi-row INSERTs of at most `insertRowsMax` rows each. Returns rows written.
 */
export async function insertAccountingRecords(client: Queryable, rows: readonly AccountingRecordRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  if (canCopy(client)) {
    const w = new BinaryCopyWriter(rows.length * 120);
    for (const r of rows) {
      w.row(12);
      w.time(r.time);
      w.int4(r.routerId);
      w.text(r.acctSessionId);
      w.int4(r.subscriberId);
      w.text(r.username);
      w.int2(r.statusType);
      w.int4(r.sessionTimeS);
      w.int8(r.inputOctets);
      w.int8(r.outputOctets);
      w.inet(r.framedIp);
      w.text(r.terminateCause);
      w.int4(r.delayTimeS);
    }
    await copyBinary(client, "accounting_records", accountingColumns, w.finish());
    return rows.length;
  }
  return insertChunked(
    client,
    "accounting_records",
    accountingColumns,
    rows,
    (r) => [
      r.time,
      r.routerId,
      r.acctSessionId,
      r.subscriberId,
      r.username,
      r.statusType,
      r.sessionTimeS,
      r.inputOctets.toString(),
      r.outputOctets.toString(),
      r.framedIp,
      r.terminateCause,
      r.delayTimeS,
    ],
  );
}

/**
 * Writes usage deltas. Rows with a negative delta are dropped and counted rather than
 * failing the whole batch on the CHECK constraint (compute deltas with `usageDelta`).
 */
export async function insertUsageDeltas(
  client: Queryable,
  rows: readonly UsageDeltaRow[],
): Promise<{ inserted: number; dropped: number }> {
  const valid = rows.filter((r) => r.inputOctets >= 0n && r.outputOctets >= 0n);
  if (valid.length > 0 && canCopy(client)) {
    const w = new BinaryCopyWriter(valid.length * 60);
    for (const r of valid) {
      w.row(5);
      w.time(r.time);
      w.int4(r.subscriberId);
      w.int4(r.routerId);
      w.int8(r.inputOctets);
      w.int8(r.outputOctets);
    }
    await copyBinary(client, "subscriber_usage", usageColumns, w.finish());
    return { inserted: valid.length, dropped: rows.length - valid.length };
  }
  const inserted = await insertChunked(
    client,
    "subscriber_usage",
    usageColumns,
    valid,
    (r) => [r.time, r.subscriberId, r.routerId, r.inputOctets.toString(), r.outputOctets.toString()],
  );
  return { inserted, dropped: rows.length - valid.length };
}

/**
 * Octets since the previous record of a session. A counter that went backwards means the
 * NAS restarted the session's counters, so the whole new value is the delta.
 */
export function usageDelta(previous: bigint | null, current: bigint): bigint {
  if (current < 0n) return 0n;
  if (previous === null || current < previous) return current;
  return current - previous;
}
