// Reversible secrets at rest (PPPoE passwords: CHAP and MS-CHAPv2 need the clear text).
// AES-256-GCM with a 32-byte key from the environment; the value stored is
// "v1:<iv>:<tag>:<ciphertext>" (base64), so a later key or algorithm can be a "v2".
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
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

/** Accepts 64 hex digits or base64 of exactly 32 bytes. */
export function parseSecretsKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== SECRETS_KEY_BYTES) {
    throw new SecretsKeyError(`SECRETS_KEY must be ${SECRETS_KEY_BYTES} bytes as 64 hex digits or base64 (got ${key.length} bytes)`);
  }
  return key;
}

export function encryptSecret(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `v1:${iv.toString("base64")}:${cipher.getAuthTag().toString("base64")}:${ct.toString("base64")}`;
}

/** Throws SecretsKeyError when the value was not encrypted with this key (or was altered). */
export function decryptSecret(key: Buffer, stored: string): string {
  const parts = stored.split(":");
  if (parts.length !== 4 || parts[0] !== "v1") throw new SecretsKeyError("not a v1 encrypted secret");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(parts[1]!, "base64"));
    decipher.setAuthTag(Buffer.from(parts[2]!, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(parts[3]!, "base64")), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretsKeyError("cannot decrypt secret: wrong SECRETS_KEY or corrupted value");
  }
}

/** Rows encrypted per statement by encryptPlainPasswords. */
export const encryptBatchRowsMax = 500;

/**
 * Encrypts subscribers' legacy plain-text passwords into pppoe_password_enc and clears the
 * plain column, in batches. Rows changed meanwhile are skipped (the WHERE re-checks the
 * plain value) and caught by the next sweep. Returns the number of rows encrypted.
 */
export async function encryptPlainPasswords(q: Queryable, key: Buffer, rowsMax = 100_000): Promise<number> {
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
