// Reversible secrets at rest (PPPoE passwords: CHAP and MS-CHAPv2 need the clear text).
// AES-256-GCM with 32-byte keys from the environment, held in a keyring: the current key
// (SECRETS_KEY) encrypts, previous keys (SECRETS_KEY_PREVIOUS) only decrypt, so a key can
// be rotated without a failed login (docs/radius-auth.md, "Rotating SECRETS_KEY").
//   v2:<key id>:<iv>:<tag>:<ciphertext>   written now; the key id (16 hex digits, not
//                                          secret) names the key, so decryption is one try
//   v1:<iv>:<tag>:<ciphertext>            older values: tried with the current key, then
//                                          the previous ones; rewritten by the sweep
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import type { Queryable } from "./timeseries";

export const SECRETS_KEY_BYTES = 32;

/**
 * Development key, public in this repository: anything encrypted with it is effectively
 * plain text. The collector warns loudly when it falls back to it.
 */
export const DEV_SECRETS_KEY = Buffer.from("6465762d6f6e6c792d696e7365637572652d7365637265742d6b65792d212121", "hex");

export class SecretsKeyError extends Error {
  override name = "SecretsKeyError";
}

/** Accepts 64 hex digits or base64 of exactly 32 bytes. The message never echoes the text. */
export function parseSecretsKey(text: string, name = "SECRETS_KEY"): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== SECRETS_KEY_BYTES) {
    throw new SecretsKeyError(`${name} must be ${SECRETS_KEY_BYTES} bytes as 64 hex digits or base64 (got ${key.length} bytes)`);
  }
  return key;
}

/** Hex digits of a key id. */
export const KEY_ID_CHARS = 16;

/** A key's public fingerprint: the first 8 bytes of HMAC-SHA256(key, "isp-secrets-key-id"), hex. */
export function secretsKeyId(key: Buffer): string {
  return createHmac("sha256", key).update("isp-secrets-key-id").digest().subarray(0, KEY_ID_CHARS / 2).toString("hex");
}

export interface SecretsKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The current key (encrypts) and the previous keys (decrypt only), looked up by key id. */
export interface SecretsKeyring {
  readonly current: SecretsKey;
  readonly previous: readonly SecretsKey[];
  /** Every key by id, the current one included. */
  readonly byId: ReadonlyMap<string, Buffer>;
}

/** What encryptSecret/decryptSecret accept: a keyring, or one key (a keyring of one). */
export type SecretsKeys = SecretsKeyring | Buffer;

export function createKeyring(current: Buffer, previous: readonly Buffer[] = []): SecretsKeyring {
  for (const k of [current, ...previous]) {
    if (k.length !== SECRETS_KEY_BYTES) throw new SecretsKeyError(`a secrets key must be ${SECRETS_KEY_BYTES} bytes (got ${k.length})`);
  }
  const cur: SecretsKey = { id: secretsKeyId(current), key: current };
  const byId = new Map<string, Buffer>([[cur.id, current]]);
  const prev: SecretsKey[] = [];
  for (const key of previous) {
    const id = secretsKeyId(key);
    const seen = byId.get(id);
    if (seen) {
      // The same key twice (e.g. the new key also left in SECRETS_KEY_PREVIOUS) is harmless.
      if (seen.equals(key)) continue;
      throw new SecretsKeyError(`two different secrets keys share the key id ${id}`);
    }
    byId.set(id, key);
    prev.push({ id, key });
  }
  return { current: cur, previous: prev, byId };
}

/** "dev" in SECRETS_KEY_PREVIOUS: the public development key (to move a demo install onto a real key). */
export const DEV_KEY_NAME = "dev";

/**
 * The keyring from SECRETS_KEY and SECRETS_KEY_PREVIOUS (comma-separated, each 64 hex
 * digits or base64, or "dev"). Without SECRETS_KEY the development key is current.
 * Errors name the variable and the position, never the key text.
 */
export function parseKeyring(current: string | undefined, previous: string | undefined): SecretsKeyring {
  const cur = current ? parseSecretsKey(current) : DEV_SECRETS_KEY;
  const items = (previous ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const prev = items.map((s, i) =>
    s.toLowerCase() === DEV_KEY_NAME ? DEV_SECRETS_KEY : parseSecretsKey(s, items.length > 1 ? `SECRETS_KEY_PREVIOUS (key ${i + 1} of ${items.length})` : "SECRETS_KEY_PREVIOUS"),
  );
  return createKeyring(cur, prev);
}

const ringOfKey = new WeakMap<Buffer, SecretsKeyring>();

/** A keyring as is; a single key as a keyring of one (built once per Buffer). */
export function toKeyring(keys: SecretsKeys): SecretsKeyring {
  if (!Buffer.isBuffer(keys)) return keys;
  let ring = ringOfKey.get(keys);
  if (!ring) ringOfKey.set(keys, (ring = createKeyring(keys)));
  return ring;
}

/** Encrypts with the keyring's current key ("v2:<key id>:..."). */
export function encryptSecret(keys: SecretsKeys, plain: string): string {
  const { id, key } = toKeyring(keys).current;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `v2:${id}:${iv.toString("base64")}:${cipher.getAuthTag().toString("base64")}:${ct.toString("base64")}`;
}

function open(key: Buffer, iv: string, tag: string, ct: string): string {
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64")), decipher.final()]).toString("utf8");
}

/** Offset of the iv in a v2 value: "v2:" + key id + ":". */
const V2_BODY = 3 + KEY_ID_CHARS + 1;

/**
 * The key id of a v2 value; null for v1 (no id). Throws SecretsKeyError on anything else.
 * Never includes the value in a message.
 */
export function secretKeyIdOf(stored: string): string | null {
  if (stored.startsWith("v2:") && stored.charCodeAt(V2_BODY - 1) === 58 /* : */) return stored.slice(3, 3 + KEY_ID_CHARS);
  if (stored.startsWith("v1:")) return null;
  throw new SecretsKeyError("not an encrypted secret (v1 or v2)");
}

/**
 * Decrypts a v2 value with the key its id names (one attempt: the RADIUS hot path), a v1
 * value with the current key, then each previous key. Throws SecretsKeyError when the
 * value's key is not in the keyring (the message names the key id) or the value was
 * altered. Messages never contain the value or the plain text.
 */
export function decryptSecret(keys: SecretsKeys, stored: string): string {
  const ring = toKeyring(keys);
  if (stored.startsWith("v2:")) {
    // Parsed by position (no split, the key id compared in place): the hot path stays as
    // cheap as the v1 parse it replaces.
    if (stored.charCodeAt(V2_BODY - 1) !== 58 /* : */) throw new SecretsKeyError("malformed v2 encrypted secret");
    let key: Buffer | undefined = ring.current.key;
    if (!stored.startsWith(ring.current.id, 3)) {
      const id = stored.slice(3, 3 + KEY_ID_CHARS);
      key = ring.byId.get(id);
      if (!key) throw new SecretsKeyError(`secret is encrypted with key id ${id}, which is neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS`);
    }
    const a = stored.indexOf(":", V2_BODY);
    const b = a < 0 ? -1 : stored.indexOf(":", a + 1);
    if (b < 0 || stored.indexOf(":", b + 1) >= 0) throw new SecretsKeyError("malformed v2 encrypted secret");
    try {
      return open(key, stored.slice(V2_BODY, a), stored.slice(a + 1, b), stored.slice(b + 1));
    } catch {
      throw new SecretsKeyError(`cannot decrypt secret with key id ${stored.slice(3, 3 + KEY_ID_CHARS)}: the value was altered or is corrupted`);
    }
  }
  const parts = stored.split(":");
  if (parts.length !== 4 || parts[0] !== "v1") throw new SecretsKeyError("not an encrypted secret (v1 or v2)");
  try {
    return open(ring.current.key, parts[1]!, parts[2]!, parts[3]!);
  } catch {
    for (const p of ring.previous) {
      try {
        return open(p.key, parts[1]!, parts[2]!, parts[3]!);
      } catch {
        // next key
      }
    }
  }
  throw new SecretsKeyError(`cannot decrypt v1 secret with any configured key (${ring.byId.size} tried): wrong SECRETS_KEY / SECRETS_KEY_PREVIOUS or corrupted value`);
}

/** Rows encrypted per statement by encryptPlainPasswords (and re-encrypted by reencryptSecrets). */
export const encryptBatchRowsMax = 500;

/**
 * Encrypts subscribers' legacy plain-text passwords into pppoe_password_enc and clears the
 * plain column, in batches. Rows changed meanwhile are skipped (the WHERE re-checks the
 * plain value) and caught by the next sweep. Returns the number of rows encrypted.
 */
export async function encryptPlainPasswords(q: Queryable, key: SecretsKeys, rowsMax = 100_000): Promise<number> {
  let done = 0;
  while (done < rowsMax) {
    const rows = (
      await q.query<{ id: number; pw: string }>(
        "SELECT id, pppoe_password AS pw FROM subscribers WHERE pppoe_password IS NOT NULL ORDER BY id LIMIT $1",
        [Math.min(encryptBatchRowsMax, rowsMax - done)],
      )
    ).rows;
    if (rows.length === 0) break;
    const r = await q.query<{ n: number }>(
      `WITH v AS (SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS t(id, pw, enc)),
            u AS (UPDATE subscribers s SET pppoe_password_enc = v.enc, pppoe_password = NULL
                    FROM v WHERE s.id = v.id AND s.pppoe_password = v.pw RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [rows.map((r) => r.id), rows.map((r) => r.pw), rows.map((r) => encryptSecret(key, r.pw))],
    );
    done += r.rows[0]?.n ?? 0;
    if (rows.length < encryptBatchRowsMax) break;
  }
  return done;
}

/** Subscriber ids kept per undecryptable key id in a report (the counts are exact). */
export const undecryptableIdsMax = 20;

export interface ReencryptReport {
  /** Rows rewritten with the current key (from a previous key, or v1 on any key). */
  reencrypted: number;
  /** Rows found stale but changed by someone else between read and write: the next sweep takes them. */
  skippedChanged: number;
  /** Rows that no configured key opens, by key id ("v1" for v1 values, which carry none). */
  undecryptable: number;
  undecryptableByKeyId: Record<string, { rows: number; subscriberIds: number[] }>;
  /** Rows on the current key when the sweep started (counted only when asked: one more scan). */
  alreadyCurrent: number | null;
  /** True when rowsMax (or stop) ended the sweep before the end of the table. */
  truncated: boolean;
}

/**
 * Rewrites every subscriber password not encrypted with the keyring's current key (v1
 * values, values on a previous key) as v2 with the current key, in batches of
 * encryptBatchRowsMax walking the primary key. A row changed between read and write is
 * skipped (the UPDATE re-checks the old value) and left to the next sweep; a row no key
 * opens is left untouched and reported by key id. dryRun decrypts and reports without
 * writing. Never logs or returns plain text. The rewrite sends no `subscriber_changed`
 * NOTIFY: caches keep the old ciphertext, which decrypts while its key is configured, and
 * pick up the new one at their next full load.
 */
export async function reencryptSecrets(
  q: Queryable,
  keys: SecretsKeys,
  /** stop: checked before each batch (a collector stopping); the sweep then returns what it did, truncated. */
  opts: { rowsMax?: number; dryRun?: boolean; countCurrent?: boolean; stop?: () => boolean } = {},
): Promise<ReencryptReport> {
  const ring = toKeyring(keys);
  const rowsMax = opts.rowsMax ?? 1_000_000;
  const currentPrefix = `v2:${ring.current.id}:`;
  const report: ReencryptReport = { reencrypted: 0, skippedChanged: 0, undecryptable: 0, undecryptableByKeyId: {}, alreadyCurrent: null, truncated: false };
  if (opts.countCurrent) {
    const r = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM subscribers WHERE starts_with(pppoe_password_enc, $1)", [currentPrefix]);
    report.alreadyCurrent = r.rows[0]?.n ?? 0;
  }
  let afterId = 0;
  let seen = 0;
  for (;;) {
    const limit = Math.min(encryptBatchRowsMax, rowsMax - seen);
    if (limit <= 0 || opts.stop?.()) {
      report.truncated = true;
      break;
    }
    const rows = (
      await q.query<{ id: number; enc: string }>(
        `SELECT id, pppoe_password_enc AS enc FROM subscribers
          WHERE id > $1 AND pppoe_password_enc IS NOT NULL AND NOT starts_with(pppoe_password_enc, $2)
          ORDER BY id LIMIT $3`,
        [afterId, currentPrefix, limit],
      )
    ).rows;
    if (rows.length === 0) break;
    seen += rows.length;
    afterId = rows[rows.length - 1]!.id;
    const ids: number[] = [];
    const olds: string[] = [];
    const news: string[] = [];
    for (const r of rows) {
      let plain: string;
      try {
        plain = decryptSecret(ring, r.enc);
      } catch {
        let kid: string;
        try {
          kid = secretKeyIdOf(r.enc) ?? "v1";
        } catch {
          kid = "malformed";
        }
        const e = (report.undecryptableByKeyId[kid] ??= { rows: 0, subscriberIds: [] });
        e.rows++;
        if (e.subscriberIds.length < undecryptableIdsMax) e.subscriberIds.push(r.id);
        report.undecryptable++;
        continue;
      }
      ids.push(r.id);
      olds.push(r.enc);
      news.push(encryptSecret(ring, plain));
    }
    if (ids.length > 0) {
      if (opts.dryRun) {
        report.reencrypted += ids.length;
      } else {
        const u = await q.query<{ n: number }>(
          `WITH v AS (SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS t(id, old, enc)),
                u AS (UPDATE subscribers s SET pppoe_password_enc = v.enc
                        FROM v WHERE s.id = v.id AND s.pppoe_password_enc = v.old
                         -- no cache-invalidation NOTIFY for this statement (migration 20261125010000)
                         AND set_config('isp.skip_change_notify', 'on', true) = 'on'
                        RETURNING 1)
           SELECT count(*)::int AS n FROM u`,
          [ids, olds, news],
        );
        const n = u.rows[0]?.n ?? 0;
        report.reencrypted += n;
        report.skippedChanged += ids.length - n;
      }
    }
    if (rows.length < limit) break;
  }
  return report;
}

export interface SecretsCensus {
  /** Values by key id: v2 values by their id, "v1" for v1 values (their key is unknown without decrypting). */
  byKeyId: Record<string, number>;
  current: number;
  /** v2 values on a configured previous key. */
  previous: number;
  /** v1 values (no key id; the sweep rewrites them). */
  v1: number;
  /** v2 values whose key id is in no configured key: these subscribers cannot log in. */
  unknown: number;
  unknownKeyIds: string[];
  /** Legacy plain-text passwords not yet encrypted. */
  plain: number;
}

/** Counts stored passwords per key id (one grouped scan, nothing decrypted). */
export async function secretsCensus(q: Queryable, keys: SecretsKeys): Promise<SecretsCensus> {
  const ring = toKeyring(keys);
  const rows = (
    await q.query<{ kid: string; n: number }>(
      `SELECT CASE WHEN pppoe_password_enc IS NULL THEN 'plain'
                   WHEN starts_with(pppoe_password_enc, 'v2:') THEN split_part(pppoe_password_enc, ':', 2)
                   ELSE split_part(pppoe_password_enc, ':', 1) END AS kid,
              count(*)::int AS n
         FROM subscribers GROUP BY 1`,
    )
  ).rows;
  const c: SecretsCensus = { byKeyId: {}, current: 0, previous: 0, v1: 0, unknown: 0, unknownKeyIds: [], plain: 0 };
  for (const { kid, n } of rows) {
    if (kid === "plain") {
      c.plain += n;
      continue;
    }
    c.byKeyId[kid] = n;
    if (kid === "v1") c.v1 += n;
    else if (kid === ring.current.id) c.current += n;
    else if (ring.byId.has(kid)) c.previous += n;
    else {
      c.unknown += n;
      c.unknownKeyIds.push(kid);
    }
  }
  c.unknownKeyIds.sort();
  return c;
}
