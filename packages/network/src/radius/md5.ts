// MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) in plain TypeScript, for the RADIUS hot path:
// they read byte ranges and write the digest into a caller's buffer, so a packet costs no
// allocation and no native crypto object (each node:crypto Hash/Hmac is a C++ object with a
// weak handle that every scavenge has to process). MD5 is used here only because RADIUS
// mandates it (authenticators, User-Password hiding, Message-Authenticator); it is checked
// against node:crypto on random inputs in md5.test.ts.

const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0;
const R = new Uint8Array([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11,
  16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);
const G = new Uint8Array(64);
for (let i = 0; i < 64; i++) G[i] = i < 16 ? i : i < 32 ? (5 * i + 1) & 15 : i < 48 ? (3 * i + 5) & 15 : (7 * i) & 15;

const INIT = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);

/** A reusable MD5 context. Not re-entrant: finish one digest before starting the next. */
export class Md5 {
  private readonly h = new Int32Array(4);
  private readonly w = new Int32Array(16);
  private readonly block = new Uint8Array(64);
  private blockLen = 0;
  private total = 0;

  constructor() {
    this.reset();
  }

  reset(): this {
    this.h.set(INIT);
    this.blockLen = 0;
    this.total = 0;
    return this;
  }

  /** Continues from a saved state after `bytes` bytes (a multiple of 64), e.g. an HMAC pad block. */
  resume(state: Int32Array, bytes: number): this {
    this.h.set(state);
    this.blockLen = 0;
    this.total = bytes;
    return this;
  }

  /** The chaining state (only meaningful at a 64-byte boundary). */
  saveState(into: Int32Array): void {
    into.set(this.h);
  }

  update(data: Uint8Array, start = 0, end = data.length): this {
    this.total += end - start;
    let pos = start;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, end - pos);
      for (let i = 0; i < take; i++) this.block[this.blockLen + i] = data[pos + i]!;
      this.blockLen += take;
      pos += take;
      if (this.blockLen < 64) return this;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    while (end - pos >= 64) {
      this.compress(data, pos);
      pos += 64;
    }
    const rest = end - pos;
    for (let i = 0; i < rest; i++) this.block[i] = data[pos + i]!;
    this.blockLen = rest;
    return this;
  }

  /** Writes the 16-byte digest at out[offset..]; the context must be reset before reuse. */
  digestInto(out: Uint8Array, offset: number): void {
    const bits = this.total * 8;
    const b = this.block;
    let n = this.blockLen;
    b[n++] = 0x80;
    if (n > 56) {
      while (n < 64) b[n++] = 0;
      this.compress(b, 0);
      n = 0;
    }
    while (n < 56) b[n++] = 0;
    const lo = bits % 0x100000000;
    const hi = Math.floor(bits / 0x100000000);
    b[56] = lo & 0xff;
    b[57] = (lo >>> 8) & 0xff;
    b[58] = (lo >>> 16) & 0xff;
    b[59] = (lo >>> 24) & 0xff;
    b[60] = hi & 0xff;
    b[61] = (hi >>> 8) & 0xff;
    b[62] = (hi >>> 16) & 0xff;
    b[63] = (hi >>> 24) & 0xff;
    this.compress(b, 0);
    const h = this.h;
    for (let i = 0; i < 4; i++) {
      const v = h[i]!;
      out[offset + i * 4] = v & 0xff;
      out[offset + i * 4 + 1] = (v >>> 8) & 0xff;
      out[offset + i * 4 + 2] = (v >>> 16) & 0xff;
      out[offset + i * 4 + 3] = (v >>> 24) & 0xff;
    }
    this.blockLen = 0;
  }

  private compress(p: Uint8Array, off: number): void {
    const w = this.w;
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      w[i] = p[j]! | (p[j + 1]! << 8) | (p[j + 2]! << 16) | (p[j + 3]! << 24);
    }
    const h = this.h;
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    for (let i = 0; i < 64; i++) {
      let f: number;
      if (i < 16) f = (b & c) | (~b & d);
      else if (i < 32) f = (d & b) | (~d & c);
      else if (i < 48) f = b ^ c ^ d;
      else f = c ^ (b | ~d);
      const x = (a + f + K[i]! + w[G[i]!]!) | 0;
      const r = R[i]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((x << r) | (x >>> (32 - r)))) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
  }
}

/** HMAC-MD5 key: the chaining states after the inner and outer pad blocks. */
export interface HmacMd5Key {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

const keyCache = new Map<string, HmacMd5Key>();
/** Distinct secrets kept (one per NAS secret); beyond it the cache starts over. */
const KEY_CACHE_MAX = 4096;
const bytesCache = new Map<string, Buffer>();

/** UTF-8 bytes of a shared secret, cached (secrets are few: one per NAS). */
export function secretBytes(secret: string | Buffer): Buffer {
  if (typeof secret !== "string") return secret;
  let b = bytesCache.get(secret);
  if (!b) {
    if (bytesCache.size >= KEY_CACHE_MAX) bytesCache.clear();
    b = Buffer.from(secret, "utf8");
    bytesCache.set(secret, b);
  }
  return b;
}

const keyMd5 = new Md5();
export function hmacMd5Key(secret: string | Buffer): HmacMd5Key {
  const cacheable = typeof secret === "string";
  if (cacheable) {
    const hit = keyCache.get(secret);
    if (hit) return hit;
  }
  let key = secretBytes(secret);
  if (key.length > 64) {
    const d = Buffer.alloc(16);
    keyMd5.reset().update(key).digestInto(d, 0);
    key = d;
  }
  const pad = new Uint8Array(64);
  const inner = new Int32Array(4);
  const outer = new Int32Array(4);
  for (let i = 0; i < 64; i++) pad[i] = (key[i] ?? 0) ^ 0x36;
  keyMd5.reset().update(pad);
  keyMd5.saveState(inner);
  for (let i = 0; i < 64; i++) pad[i] = (key[i] ?? 0) ^ 0x5c;
  keyMd5.reset().update(pad);
  keyMd5.saveState(outer);
  const k = { inner, outer };
  if (cacheable) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(secret, k);
  }
  return k;
}

/** A reusable HMAC-MD5 context: begin, update..., digestInto. Not re-entrant. */
export class HmacMd5 {
  private readonly md5 = new Md5();
  private readonly innerDigest = new Uint8Array(16);
  private key: HmacMd5Key | null = null;

  begin(key: HmacMd5Key): this {
    this.key = key;
    this.md5.resume(key.inner, 64);
    return this;
  }

  update(data: Uint8Array, start = 0, end = data.length): this {
    this.md5.update(data, start, end);
    return this;
  }

  digestInto(out: Uint8Array, offset: number): void {
    const key = this.key;
    if (!key) throw new Error("HmacMd5.digestInto before begin");
    this.md5.digestInto(this.innerDigest, 0);
    this.md5.resume(key.outer, 64).update(this.innerDigest).digestInto(out, offset);
    this.key = null;
  }
}

/** Constant-time comparison of a[aOff..aOff+len] and b[bOff..bOff+len] (no views allocated). */
export function equalBytes(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  let diff = 0;
  for (let i = 0; i < len; i++) diff |= a[aOff + i]! ^ b[bOff + i]!;
  return diff === 0;
}
