// NAT log storage and the compliance lookup: "who had public IP X, port Y, at time T?".
// Tables nat_log and nat_quarantine live in ../timeseries/{plain,timescale}/003_nat_log.sql
// (hypertables with compression, or monthly partitions; 12-month retention in both).
// Writes: COPY FROM STDIN on a pg connection, bounded multi-row INSERTs elsewhere (PGlite).
// Reads: lookupNat (by public IP/port/time) and RADIUS session history (radius_sessions).
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { canCopy, copyBinaryHeader, copyBinaryTrailer, ipBytes, pgEpochMs } from "./pg-copy";
import type { Queryable } from "./timeseries";

export { ipBytes };

export type NatEvent = "open" | "close" | "packet";

export interface NatLogRow {
  time: Date;
  routerId: number | null;
  /** The syslog sender's address. */
  sourceIp: string;
  event: NatEvent;
  /** Lower-case name ("tcp", "udp", "icmp") or the IP protocol number as text. */
  protocol: string;
  privateIp: string;
  privatePort: number | null;
  publicIp: string;
  publicPort: number | null;
  destIp: string;
  destPort: number | null;
  subscriberId: number | null;
  acctSessionId: string | null;
  pppoeUser: string | null;
  srcMac: string | null;
}

export interface NatQuarantineRow {
  receivedAt: Date;
  sourceIp: string;
  reason: string;
  raw: string;
}

/** Rows per multi-row INSERT (15 parameters each: 15,000, far below PostgreSQL's 65,535). */
export const natInsertRowsMax = 1000;
/** Rows per COPY data chunk written to the connection (about 150 bytes each). */
export const natCopyChunkRows = 2000;
/** Quarantined raw text is cut to this many UTF-8 bytes; raw_bytes keeps the original size. */
export const natQuarantineRawBytesMax = 8192;
/** Reason and other free text fields are cut to this many characters. */
export const natTextCharsMax = 256;
export const natLookupLimitDefault = 500;
export const natLookupLimitMax = 5000;
export const sessionSearchLimitDefault = 500;
export const sessionSearchLimitMax = 5000;

const natEvents: ReadonlySet<string> = new Set(["open", "close", "packet"]);

function isPort(p: number | null): boolean {
  return p === null || (Number.isInteger(p) && p >= 0 && p <= 65535);
}

function isInt4OrNull(n: number | null): boolean {
  return n === null || (Number.isInteger(n) && n >= -2147483648 && n <= 2147483647);
}

const macRe = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/;

/**
 * Why a row cannot be stored (a string naming the field), or null when it can. insertNatLog
 * throws a RangeError on such a row before writing anything, so callers that want to keep
 * going check rows with this first and quarantine the bad ones.
 */
export function natLogRowProblem(r: NatLogRow): string | null {
  if (!(r.time instanceof Date) || Number.isNaN(r.time.getTime())) return "time is not a valid Date";
  if (!natEvents.has(r.event)) return `event ${JSON.stringify(r.event)} is not open|close|packet`;
  if (typeof r.protocol !== "string" || r.protocol.length === 0 || r.protocol.length > 32) return "protocol must be 1..32 characters";
  if (isIP(r.sourceIp) === 0) return `sourceIp ${JSON.stringify(r.sourceIp)} is not an IP address`;
  if (isIP(r.privateIp) === 0) return `privateIp ${JSON.stringify(r.privateIp)} is not an IP address`;
  if (isIP(r.publicIp) === 0) return `publicIp ${JSON.stringify(r.publicIp)} is not an IP address`;
  if (isIP(r.destIp) === 0) return `destIp ${JSON.stringify(r.destIp)} is not an IP address`;
  if (!isPort(r.privatePort)) return `privatePort ${String(r.privatePort)} is not 0..65535`;
  if (!isPort(r.publicPort)) return `publicPort ${String(r.publicPort)} is not 0..65535`;
  if (!isPort(r.destPort)) return `destPort ${String(r.destPort)} is not 0..65535`;
  if (!isInt4OrNull(r.routerId)) return `routerId ${String(r.routerId)} is not an integer`;
  if (!isInt4OrNull(r.subscriberId)) return `subscriberId ${String(r.subscriberId)} is not an integer`;
  if (r.srcMac !== null && !macRe.test(r.srcMac)) return `srcMac ${JSON.stringify(r.srcMac)} is not a MAC address`;
  return null;
}

function assertRows(rows: readonly NatLogRow[]): void {
  for (let i = 0; i < rows.length; i++) {
    const problem = natLogRowProblem(rows[i]!);
    if (problem !== null) throw new RangeError(`nat_log row ${i}: ${problem}`);
  }
}

/** PostgreSQL text cannot hold NUL; router-supplied strings are cut so one line cannot bloat a row. */
function cleanText(s: string | null, max: number = natTextCharsMax): string | null {
  if (s === null) return null;
  const t = s.includes("\0") ? s.replaceAll("\0", "\uFFFD") : s;
  return t.length > max ? t.slice(0, max) : t;
}

// ---------------------------------------------------------------------------------------------
// Writes

const natColumns = [
  "time",
  "router_id",
  "private_port",
  "public_port",
  "dest_port",
  "subscriber_id",
  "src_mac",
  "public_ip",
  "private_ip",
  "dest_ip",
  "source_ip",
  "event",
  "protocol",
  "acct_session_id",
  "pppoe_user",
] as const;

function natValues(r: NatLogRow): unknown[] {
  return [
    r.time,
    r.routerId,
    r.privatePort,
    r.publicPort,
    r.destPort,
    r.subscriberId,
    r.srcMac,
    r.publicIp,
    r.privateIp,
    r.destIp,
    r.sourceIp,
    r.event,
    cleanText(r.protocol),
    cleanText(r.acctSessionId),
    cleanText(r.pppoeUser),
  ];
}

/** COPY text format: backslash, tab, newline and carriage return are escaped; NULL is \N. */
function copyText(v: string | null): string {
  if (v === null) return "\\N";
  return /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r")) : v;
}

function copyNum(v: number | null): string {
  return v === null ? "\\N" : String(v);
}

function copyLine(r: NatLogRow): string {
  return (
    `${r.time.toISOString()}\t${copyNum(r.routerId)}\t${copyNum(r.privatePort)}\t${copyNum(r.publicPort)}\t${copyNum(r.destPort)}\t` +
    `${copyNum(r.subscriberId)}\t${r.srcMac ?? "\\N"}\t${r.publicIp}\t${r.privateIp}\t${r.destIp}\t${r.sourceIp}\t${r.event}\t` +
    `${copyText(cleanText(r.protocol))}\t${copyText(cleanText(r.acctSessionId))}\t${copyText(cleanText(r.pppoeUser))}\n`
  );
}

type PgConnection = pg.PoolClient | pg.Client;

/**
 * A pg Client or PoolClient: one connection that can carry a COPY stream. A Pool is not
 * (each query may go to another connection) and neither is PGlite.
 */
export function isPgConnection(q: unknown): q is PgConnection {
  return canCopy(q);
}

// Binary COPY (PostgreSQL's "PGCOPY" format): the server takes int64 microseconds, 4-byte
// inet addresses and raw integers instead of parsing text per column, which is most of its
// per-row COPY cost here.
class BinaryWriter {
  buf: Buffer;
  at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  nul(): void {
    this.room(4);
    this.at = this.buf.writeInt32BE(-1, this.at);
  }
  int4(v: number | null): void {
    if (v === null) return this.nul();
    this.room(8);
    this.at = this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(v, this.at);
  }
  time(d: Date): void {
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    // Microseconds stay below 2^53 for any Date, so two 32-bit halves are exact (no BigInt).
    const us = (d.getTime() - pgEpochMs) * 1000;
    const hi = Math.floor(us / 4294967296);
    this.at = this.buf.writeInt32BE(hi, this.at);
    this.at = this.buf.writeUInt32BE(us - hi * 4294967296, this.at);
  }
  inet(ip: string): void {
    if (this.inet4(ip)) return;
    const b = ipBytes(ip);
    this.room(8 + b.length);
    this.at = this.buf.writeInt32BE(4 + b.length, this.at);
    // family (PGSQL_AF_INET 2 / PGSQL_AF_INET6 3), prefix bits, is_cidr, address length.
    this.buf[this.at++] = b.length === 4 ? 2 : 3;
    this.buf[this.at++] = b.length * 8;
    this.buf[this.at++] = 0;
    this.buf[this.at++] = b.length;
    for (const x of b) this.buf[this.at++] = x;
  }
  /** Dotted quads without allocating (the common case); false leaves the rest to ipBytes. */
  inet4(ip: string): boolean {
    if (ip.length > 15 || ip.includes(":")) return false;
    this.room(12);
    const b = this.buf;
    let p = this.at;
    b.writeInt32BE(8, p);
    b[p + 4] = 2;
    b[p + 5] = 32;
    b[p + 6] = 0;
    b[p + 7] = 4;
    p += 8;
    let octet = 0;
    for (let i = 0; i < ip.length; i++) {
      const c = ip.charCodeAt(i);
      if (c === 46) {
        b[p++] = octet;
        octet = 0;
      } else octet = octet * 10 + c - 48;
    }
    b[p++] = octet;
    this.at = p;
    return true;
  }
  mac(mac: string | null): void {
    if (mac === null) return this.nul();
    this.room(10);
    this.at = this.buf.writeInt32BE(6, this.at);
    for (let i = 0; i < 17; i += 3) this.buf[this.at++] = parseInt(mac.slice(i, i + 2), 16);
  }
  text(v: string | null): void {
    if (v === null) return this.nul();
    const n = Buffer.byteLength(v, "utf8");
    this.room(4 + n);
    this.at = this.buf.writeInt32BE(n, this.at);
    this.at += this.buf.write(v, this.at, "utf8");
  }
  row(r: NatLogRow): void {
    this.room(2);
    this.at = this.buf.writeInt16BE(natColumns.length, this.at);
    this.time(r.time);
    this.int4(r.routerId);
    this.int4(r.privatePort);
    this.int4(r.publicPort);
    this.int4(r.destPort);
    this.int4(r.subscriberId);
    this.mac(r.srcMac);
    this.inet(r.publicIp);
    this.inet(r.privateIp);
    this.inet(r.destIp);
    this.inet(r.sourceIp);
    this.text(r.event);
    this.text(cleanText(r.protocol));
    this.text(cleanText(r.acctSessionId));
    this.text(cleanText(r.pppoeUser));
  }
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at));
    this.at = 0;
    return out;
  }
}

async function copyNatLog(client: PgConnection, rows: readonly NatLogRow[], format: "binary" | "text"): Promise<void> {
  const stream = client.query(copyFrom(`COPY nat_log (${natColumns.join(", ")}) FROM STDIN${format === "binary" ? " (FORMAT binary)" : ""}`));
  function* textChunks(): Generator<string> {
    for (let at = 0; at < rows.length; at += natCopyChunkRows) {
      let text = "";
      const end = Math.min(rows.length, at + natCopyChunkRows);
      for (let i = at; i < end; i++) text += copyLine(rows[i]!);
      yield text;
    }
  }
  function* binaryChunks(): Generator<Buffer> {
    const w = new BinaryWriter(natCopyChunkRows * 160);
    yield copyBinaryHeader;
    for (let at = 0; at < rows.length; at += natCopyChunkRows) {
      const end = Math.min(rows.length, at + natCopyChunkRows);
      for (let i = at; i < end; i++) w.row(rows[i]!);
      yield w.take();
    }
    yield copyBinaryTrailer;
  }
  await pipeline(Readable.from(format === "binary" ? binaryChunks() : textChunks()), stream);
}

async function insertNatLogRows(q: Queryable, rows: readonly NatLogRow[]): Promise<void> {
  const n = natColumns.length;
  for (let at = 0; at < rows.length; at += natInsertRowsMax) {
    const chunk = rows.slice(at, at + natInsertRowsMax);
    const params: unknown[] = [];
    const tuples = chunk.map((r, i) => {
      params.push(...natValues(r));
      const b = i * n;
      return `($${b + 1}::timestamptz, $${b + 2}::int, $${b + 3}::int, $${b + 4}::int, $${b + 5}::int, $${b + 6}::int, $${b + 7}::macaddr, $${b + 8}::inet, $${b + 9}::inet, $${b + 10}::inet, $${b + 11}::inet, $${b + 12}, $${b + 13}, $${b + 14}, $${b + 15})`;
    });
    await q.query(`INSERT INTO nat_log (${natColumns.join(", ")}) VALUES ${tuples.join(", ")}`, params);
  }
}

export interface InsertNatLogOptions {
  /** "auto" (default): COPY on a pg connection, INSERT otherwise. "insert" forces multi-row INSERTs. */
  method?: "auto" | "copy" | "insert";
  /** COPY format; binary (default) spares the server the text parsing. */
  copyFormat?: "binary" | "text";
}

/**
 * Stores rows; with a pg client (Client or PoolClient) uses COPY FROM STDIN, otherwise
 * (PGlite, a Pool) bounded multi-row INSERTs. Returns rows stored. A row that fails
 * natLogRowProblem throws a RangeError before anything is written; database errors are
 * thrown as they come (the caller spools and retries). Not wrapped in a transaction: with
 * INSERTs a failure can leave earlier chunks stored, so callers retry whole batches only
 * with COPY or a single chunk (at most natInsertRowsMax rows).
 */
export async function insertNatLog(
  q: Queryable | pg.PoolClient | pg.Client,
  rows: readonly NatLogRow[],
  options: InsertNatLogOptions = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  assertRows(rows);
  const method = options.method ?? "auto";
  if (method === "copy" || (method === "auto" && isPgConnection(q))) {
    if (!isPgConnection(q)) throw new TypeError("COPY needs a pg Client or PoolClient");
    await copyNatLog(q, rows, options.copyFormat ?? "binary");
  } else {
    await insertNatLogRows(q as Queryable, rows);
  }
  return rows.length;
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (s.length * 3 <= max) return s;
  const buf = Buffer.from(s, "utf8");
  if (buf.length <= max) return s;
  let end = max;
  // Back off continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}

/**
 * Stores lines that could not be parsed (or stored) with the reason. raw is cut to
 * natQuarantineRawBytesMax UTF-8 bytes (raw_bytes keeps the original size); NUL
 * characters become U+FFFD. A sourceIp that is not an address is stored as 0.0.0.0 with
 * the original text kept in the reason, so a quarantine write never fails on its input.
 */
export async function insertNatQuarantine(q: Queryable, rows: readonly NatQuarantineRow[]): Promise<number> {
  const perRow = 5;
  for (let at = 0; at < rows.length; at += natInsertRowsMax) {
    const chunk = rows.slice(at, at + natInsertRowsMax);
    const params: unknown[] = [];
    const tuples = chunk.map((r, i) => {
      const time = r.receivedAt instanceof Date && !Number.isNaN(r.receivedAt.getTime()) ? r.receivedAt : new Date();
      const ipOk = isIP(r.sourceIp) !== 0;
      const reason = cleanText(ipOk ? r.reason : `${r.reason} (sender ${JSON.stringify(String(r.sourceIp).slice(0, 64))})`)!;
      const raw = String(r.raw).replaceAll("\0", "\uFFFD");
      params.push(time, ipOk ? r.sourceIp : "0.0.0.0", reason, truncateUtf8(raw, natQuarantineRawBytesMax), Buffer.byteLength(raw, "utf8"));
      const b = i * perRow;
      return `($${b + 1}::timestamptz, $${b + 2}::inet, $${b + 3}, $${b + 4}, $${b + 5}::int)`;
    });
    await q.query(`INSERT INTO nat_quarantine (time, source_ip, reason, raw, raw_bytes) VALUES ${tuples.join(", ")}`, params);
  }
  return rows.length;
}

/**
 * Sets how long nat_log and nat_quarantine keep data (e.g. "12 months", "400 days").
 * Plain: the ts_partitioned_tables retention; TimescaleDB: replaces the retention policies.
 */
export async function setNatRetention(q: Queryable, keep: string): Promise<void> {
  await q.query("SELECT nat_log_set_retention($1::interval)", [keep]);
}

// ---------------------------------------------------------------------------------------------
// Lookups

function assertRange(from: Date, to: Date): void {
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) throw new RangeError("from is not a valid date");
  if (!(to instanceof Date) || Number.isNaN(to.getTime())) throw new RangeError("to is not a valid date");
  if (from.getTime() > to.getTime()) throw new RangeError(`the time range is inverted: from ${from.toISOString()} is after to ${to.toISOString()}`);
}

function limitOf(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined) return dflt;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${String(limit)}`);
  return Math.min(limit, max);
}

export interface NatLookupQuery {
  publicIp: string;
  publicPort?: number | null;
  from: Date;
  to: Date;
  /** Default 500; larger values are capped at 5000. */
  limit?: number;
}

export interface NatLookupRow extends NatLogRow {
  routerName: string | null;
}

interface NatDbRow {
  time: Date;
  router_id: number | null;
  router_name: string | null;
  source_ip: string;
  event: NatEvent;
  protocol: string;
  private_ip: string;
  private_port: number | null;
  public_ip: string;
  public_port: number | null;
  dest_ip: string;
  dest_port: number | null;
  subscriber_id: number | null;
  acct_session_id: string | null;
  pppoe_user: string | null;
  src_mac: string | null;
}

/**
 * The statement lookupNat runs: $1 public IP, $2 from, $3 to, $4 row limit, $5 port (only
 * when withPort). Exported so the bench can EXPLAIN exactly this. The inner query walks
 * nat_log_lookup_idx (public_ip, time, public_port) in time order and stops after $4 rows;
 * router names are joined to those rows only.
 */
export function lookupNatSql(withPort: boolean): string {
  return `SELECT n.time, n.router_id, r.name AS router_name, host(n.source_ip) AS source_ip, n.event, n.protocol,
            host(n.private_ip) AS private_ip, n.private_port, host(n.public_ip) AS public_ip, n.public_port,
            host(n.dest_ip) AS dest_ip, n.dest_port, n.subscriber_id, n.acct_session_id, n.pppoe_user,
            n.src_mac::text AS src_mac
       FROM (SELECT * FROM nat_log
              WHERE public_ip = $1::inet ${withPort ? "AND public_port = $5::int" : ""}
                AND time >= $2::timestamptz AND time <= $3::timestamptz
              ORDER BY time
              LIMIT $4) n
       LEFT JOIN routers r ON r.id = n.router_id
      ORDER BY n.time`;
}

/**
 * Records with that public IP (and port when given) whose time is in [from, to], oldest
 * first, at most `limit`; `truncated` says more matched. Bad IP, port, dates, an inverted
 * range or a bad limit throw a RangeError.
 */
export async function lookupNat(q: Queryable, query: NatLookupQuery): Promise<{ rows: NatLookupRow[]; truncated: boolean }> {
  if (typeof query.publicIp !== "string" || isIP(query.publicIp) === 0) {
    throw new RangeError(`publicIp ${JSON.stringify(query.publicIp)} is not an IPv4 or IPv6 address`);
  }
  const port = query.publicPort ?? null;
  if (port !== null && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`publicPort must be an integer 0..65535, got ${String(port)}`);
  }
  assertRange(query.from, query.to);
  const limit = limitOf(query.limit, natLookupLimitDefault, natLookupLimitMax);
  const params: unknown[] = [query.publicIp, query.from, query.to, limit + 1];
  if (port !== null) params.push(port);
  const r = await q.query<NatDbRow>(lookupNatSql(port !== null), params);
  const truncated = r.rows.length > limit;
  const rows = (truncated ? r.rows.slice(0, limit) : r.rows).map((x) => ({
    time: x.time,
    routerId: x.router_id,
    routerName: x.router_name,
    sourceIp: x.source_ip,
    event: x.event,
    protocol: x.protocol,
    privateIp: x.private_ip,
    privatePort: x.private_port,
    publicIp: x.public_ip,
    publicPort: x.public_port,
    destIp: x.dest_ip,
    destPort: x.dest_port,
    subscriberId: x.subscriber_id,
    acctSessionId: x.acct_session_id,
    pppoeUser: x.pppoe_user,
    srcMac: x.src_mac,
  }));
  return { rows, truncated };
}

export interface SessionSearchQuery {
  subscriberId?: number;
  ip?: string;
  mac?: string;
  from: Date;
  to: Date;
  /** Default 500; larger values are capped at 5000. */
  limit?: number;
}

export interface SessionHistoryRow {
  /** radius_sessions.id (a bigint) as a decimal string. */
  id: string;
  subscriberId: number | null;
  username: string;
  routerName: string;
  framedIp: string | null;
  callingStationId: string | null;
  startedAt: Date;
  stoppedAt: Date | null;
  terminateCause: string | null;
  acctSessionId: string;
}

/**
 * The spellings a NAS may use for one MAC in Calling-Station-Id (MikroTik "4C:5E:...",
 * others lower case, dashes, Cisco dotted), so an equality search can use the index.
 * Throws a RangeError when the text is not 12 hex digits with optional separators.
 */
export function macSpellings(mac: string): string[] {
  const hex = typeof mac === "string" ? mac.trim().replace(/[:.\-\s]/g, "") : "";
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new RangeError(`mac ${JSON.stringify(mac)} is not a MAC address`);
  const out = new Set<string>();
  for (const h of [hex.toUpperCase(), hex.toLowerCase()]) {
    const pairs = h.match(/../g)!;
    out.add(pairs.join(":"));
    out.add(pairs.join("-"));
    out.add(`${h.slice(0, 4)}.${h.slice(4, 8)}.${h.slice(8)}`);
    out.add(h);
  }
  return [...out];
}

/**
 * RADIUS sessions (radius_sessions keeps stopped ones) overlapping [from, to] and matching
 * every given filter; at least one of subscriberId, ip, mac is required. Newest first.
 */
export async function searchSessions(q: Queryable, query: SessionSearchQuery): Promise<{ rows: SessionHistoryRow[]; truncated: boolean }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.subscriberId !== undefined) {
    if (!Number.isInteger(query.subscriberId) || query.subscriberId < 1 || query.subscriberId > 2147483647) {
      throw new RangeError(`subscriberId must be a positive integer, got ${String(query.subscriberId)}`);
    }
    params.push(query.subscriberId);
    where.push(`s.subscriber_id = $${params.length}`);
  }
  if (query.ip !== undefined) {
    if (typeof query.ip !== "string" || isIP(query.ip) === 0) throw new RangeError(`ip ${JSON.stringify(query.ip)} is not an IP address`);
    params.push(query.ip);
    where.push(`s.framed_ip = $${params.length}::inet`);
  }
  if (query.mac !== undefined) {
    params.push(macSpellings(query.mac));
    where.push(`s.calling_station_id = ANY($${params.length}::text[])`);
  }
  if (where.length === 0) throw new RangeError("searchSessions needs at least one of subscriberId, ip, mac");
  assertRange(query.from, query.to);
  const limit = limitOf(query.limit, sessionSearchLimitDefault, sessionSearchLimitMax);
  params.push(query.to, query.from, limit + 1);
  const n = params.length;
  const r = await q.query<{
    id: string;
    subscriber_id: number | null;
    username: string;
    router_name: string;
    framed_ip: string | null;
    calling_station_id: string | null;
    started_at: Date;
    stopped_at: Date | null;
    terminate_cause: string | null;
    acct_session_id: string;
  }>(
    `SELECT s.id::text AS id, s.subscriber_id, s.username, r.name AS router_name, host(s.framed_ip) AS framed_ip,
            s.calling_station_id, s.started_at, s.stopped_at, s.terminate_cause, s.acct_session_id
       FROM radius_sessions s JOIN routers r ON r.id = s.router_id
      WHERE ${where.join(" AND ")}
        AND s.started_at <= $${n - 2}::timestamptz AND (s.stopped_at IS NULL OR s.stopped_at >= $${n - 1}::timestamptz)
      ORDER BY s.started_at DESC, s.id DESC
      LIMIT $${n}`,
    params,
  );
  const truncated = r.rows.length > limit;
  const rows = (truncated ? r.rows.slice(0, limit) : r.rows).map((x) => ({
    id: x.id,
    subscriberId: x.subscriber_id,
    username: x.username,
    routerName: x.router_name,
    framedIp: x.framed_ip,
    callingStationId: x.calling_station_id,
    startedAt: x.started_at,
    stoppedAt: x.stopped_at,
    terminateCause: x.terminate_cause,
    acctSessionId: x.acct_session_id,
  }));
  return { rows, truncated };
}

export interface SessionAtOptions {
  /** Prefer this router's session when several routers hand out the same private range. */
  routerId?: number | null;
}

/**
 * The session that held `privateIp` at `time` (started <= time and (stopped is null or
 * stopped >= time)), for resolving a NAT record to a subscriber. When several match (a
 * session that went stale without a Stop, or the same private range on two routers) the
 * given router's wins, then the latest started.
 */
export async function sessionAt(
  q: Queryable,
  privateIp: string,
  time: Date,
  options: SessionAtOptions = {},
): Promise<{ subscriberId: number | null; acctSessionId: string; routerId: number; startedAt: Date; stoppedAt: Date | null } | null> {
  if (typeof privateIp !== "string" || isIP(privateIp) === 0) throw new RangeError(`privateIp ${JSON.stringify(privateIp)} is not an IP address`);
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) throw new RangeError("time is not a valid date");
  const r = await q.query<{ subscriber_id: number | null; acct_session_id: string; router_id: number; started_at: Date; stopped_at: Date | null }>(
    `SELECT subscriber_id, acct_session_id, router_id, started_at, stopped_at
       FROM radius_sessions
      WHERE framed_ip = $1::inet AND started_at <= $2::timestamptz AND (stopped_at IS NULL OR stopped_at >= $2::timestamptz)
      ORDER BY (router_id = $3::int) IS TRUE DESC, started_at DESC, id DESC
      LIMIT 1`,
    [privateIp, time, options.routerId ?? null],
  );
  const row = r.rows[0];
  return row
    ? { subscriberId: row.subscriber_id, acctSessionId: row.acct_session_id, routerId: row.router_id, startedAt: new Date(row.started_at), stoppedAt: row.stopped_at === null ? null : new Date(row.stopped_at) }
    : null;
}
