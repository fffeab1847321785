// Binary COPY FROM STDIN (PostgreSQL's "PGCOPY" format) for the accounting write path:
// the server takes raw integers, int64 microseconds and 4/16-byte addresses instead of
// parsing a text value per column, and the client sends one stream instead of a
// statement with thousands of bind parameters.
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

/** A pg Client or PoolClient (one connection that can carry a COPY stream); not a Pool, not PGlite. */
export function canCopy(q: unknown): q is pg.PoolClient | pg.Client {
  if (typeof q !== "object" || q === null) return false;
  const c = q as { connection?: unknown; query?: unknown; totalCount?: unknown };
  return typeof c.query === "function" && typeof c.connection === "object" && c.connection !== null && c.totalCount === undefined;
}

export const pgEpochMs = 946_684_800_000; // 2000-01-01T00:00:00Z
export const copyBinaryHeader = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
export const copyBinaryTrailer = Buffer.from([0xff, 0xff]);

/** The 4 or 16 bytes of an address that isIP accepted (an IPv6 zone is dropped, as inet does). */
export function ipBytes(ip: string): number[] {
  if (isIP(ip) === 4) return ip.split(".").map(Number);
  // IPv6: optional embedded IPv4 tail, at most one "::".
  let text = ip.split("%")[0]!;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    tail.push(...text.slice(lastColon + 1).split(".").map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const groups = (g: string) => (g === "" ? [] : g.split(":").map((x) => parseInt(x, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const words = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const out: number[] = [];
  for (const w of words) out.push(w >> 8, w & 255);
  if (tail.length === 4) out.splice(12, 4, ...tail);
  return out;
}

/** Rows of a binary COPY, written into one growing buffer (no per-value allocation). */
export class BinaryCopyWriter {
  private buf: Buffer;
  private at = 0;

  constructor(sizeHint = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, sizeHint));
    this.buf.set(copyBinaryHeader, 0);
    this.at = copyBinaryHeader.length;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** Starts a row of `columns` fields. */
  row(columns: number): void {
    this.room(2);
    this.at = this.buf.writeInt16BE(columns, this.at);
  }

  nul(): void {
    this.room(4);
    this.at = this.buf.writeInt32BE(-1, this.at);
  }

  int2(v: number): void {
    this.room(6);
    this.at = this.buf.writeInt32BE(2, this.at);
    this.at = this.buf.writeInt16BE(v, this.at);
  }

  int4(v: number | null): void {
    if (v === null) return this.nul();
    this.room(8);
    this.at = this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(v, this.at);
  }

  int8(v: bigint | null): void {
    if (v === null) return this.nul();
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeBigInt64BE(v, this.at);
  }

  /** timestamptz: int64 microseconds since 2000-01-01 (exact for any Date: below 2^53). */
  time(d: Date | null): void {
    if (d === null) return this.nul();
    const ms = d.getTime();
    if (!Number.isFinite(ms)) throw new RangeError("COPY: invalid Date");
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    const us = (ms - pgEpochMs) * 1000;
    const hi = Math.floor(us / 4294967296);
    this.at = this.buf.writeInt32BE(hi, this.at);
    this.at = this.buf.writeUInt32BE(us - hi * 4294967296, this.at);
  }

  /** NUL is not a valid character in a PostgreSQL text value: it becomes U+FFFD. */
  text(v: string | null): void {
    if (v === null) return this.nul();
    const s = v.includes("\0") ? v.replaceAll("\0", "\uFFFD") : v;
    const n = Buffer.byteLength(s, "utf8");
    this.room(4 + n);
    this.at = this.buf.writeInt32BE(n, this.at);
    this.at += this.buf.write(s, this.at, "utf8");
  }

  /** An address (IPv4 or IPv6, no prefix); anything else throws (as the text input would). */
  inet(ip: string | null): void {
    if (ip === null) return this.nul();
    if (this.inet4(ip)) return;
    const family = isIP(ip);
    if (family === 0) throw new RangeError(`COPY: not an IP address: ${JSON.stringify(ip.slice(0, 64))}`);
    const bytes = ipBytes(ip);
    this.room(8 + bytes.length);
    this.at = this.buf.writeInt32BE(4 + bytes.length, this.at);
    // family (PGSQL_AF_INET 2 / PGSQL_AF_INET6 3), prefix bits, is_cidr, address length.
    this.buf[this.at++] = family === 4 ? 2 : 3;
    this.buf[this.at++] = bytes.length * 8;
    this.buf[this.at++] = 0;
    this.buf[this.at++] = bytes.length;
    for (const x of bytes) this.buf[this.at++] = x;
  }

  /** A dotted quad written without allocating; false (nothing written) for anything else. */
  private inet4(ip: string): boolean {
    const n = ip.length;
    if (n < 7 || n > 15) return false;
    let octet = 0;
    let digits = 0;
    let dots = 0;
    const bytes = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const c = ip.charCodeAt(i);
      if (c === 46) {
        if (digits === 0 || dots === 3) return false;
        bytes[dots++] = octet;
        octet = 0;
        digits = 0;
      } else if (c >= 48 && c <= 57) {
        // No leading zeros (isIP refuses them too) and at most 255.
        if ((digits === 1 && octet === 0) || digits === 3) return false;
        octet = octet * 10 + c - 48;
        digits++;
        if (octet > 255) return false;
      } else return false;
    }
    if (digits === 0 || dots !== 3) return false;
    bytes[3] = octet;
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.buf[this.at++] = 2;
    this.buf[this.at++] = 32;
    this.buf[this.at++] = 0;
    this.buf[this.at++] = 4;
    for (const b of bytes) this.buf[this.at++] = b;
    return true;
  }

  /** The whole stream (header, rows, trailer). */
  finish(): Buffer {
    this.room(2);
    this.buf.set(copyBinaryTrailer, this.at);
    this.at += 2;
    return this.buf.subarray(0, this.at);
  }
}

/** COPY `table (columns)` FROM STDIN (FORMAT binary) with one data buffer. */
export async function copyBinary(client: pg.PoolClient | pg.Client, table: string, columns: readonly string[], data: Buffer): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN (FORMAT binary)`));
  await pipeline(Readable.from([data]), stream);
}
