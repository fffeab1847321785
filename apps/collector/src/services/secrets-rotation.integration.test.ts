// The collector's side of SECRETS_KEY rotation against a real PostgreSQL: the census it
// logs at start, the background re-encryption onto the current key, the error naming a
// key id nobody configured, and stop() ending a sweep after its batch.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyring, decryptSecret, encryptSecret, secretKeyIdOf, secretsKeyId } from "@isp/db/secrets";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import type { Logger } from "../log";
import { createSecretsRotation } from "./secrets-rotation";

function capturingLogger(lines: Array<{ level: string; msg: string; extra?: Record<string, unknown> }>): Logger {
  const l: Logger = {
    debug: (msg, extra) => lines.push({ level: "debug", msg, extra }),
    info: (msg, extra) => lines.push({ level: "info", msg, extra }),
    warn: (msg, extra) => lines.push({ level: "warn", msg, extra }),
    error: (msg, extra) => lines.push({ level: "error", msg, extra }),
    child: () => l,
  };
  return l;
}

describe("secrets rotation in the collector", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const oldKey = Buffer.alloc(32, 0x31);
  const newKey = Buffer.alloc(32, 0x32);
  const lostKey = Buffer.alloc(32, 0x33);
  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.prisma, { subscribers: 40, secretsKey: oldKey });
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("logs the census at start, re-encrypts in the background, and names the key id nobody configured", async () => {
    await pool.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id IN (3, 5)", [encryptSecret(lostKey, "lost")]);
    const total = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM subscribers")).rows[0]!.n;
    const lines: Array<{ level: string; msg: string; extra?: Record<string, unknown> }> = [];
    const keyring = createKeyring(newKey, [oldKey]);
    const rotation = createSecretsRotation({ q: pool, keyring, log: capturingLogger(lines) });
    const census = await rotation.atStart();
    expect(census).toMatchObject({ current: 0, previous: total - 2, v1: 0, unknown: 2, unknownKeyIds: [secretsKeyId(lostKey)] });
    const first = lines[0]!.msg;
    expect(first).toContain(`current key ${keyring.current.id}, previous keys: ${secretsKeyId(oldKey)}`);
    expect(first).toContain(`0 on the current key, ${total - 2} on previous keys, 0 v1 (no key id), 2 on unknown keys`);
    await rotation.idle();
    const rows = (await pool.query<{ id: number; enc: string }>("SELECT id, pppoe_password_enc AS enc FROM subscribers ORDER BY id")).rows;
    for (const r of rows) {
      if (r.id === 3 || r.id === 5) expect(secretKeyIdOf(r.enc)).toBe(secretsKeyId(lostKey));
      else expect(secretKeyIdOf(r.enc)).toBe(keyring.current.id);
    }
    expect(decryptSecret(createKeyring(newKey), rows.find((r) => r.id === 1)!.enc)).toMatch(/.+/);
    const text = lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.extra ?? {})}`).join("\n");
    expect(text).toContain(`re-encrypted ${total - 2} PPPoE passwords with the current key ${keyring.current.id}`);
    expect(text).toMatch(new RegExp(`error 2 PPPoE passwords cannot be decrypted with any configured key.*${secretsKeyId(lostKey)}: 2`));
    expect(text).toContain('"subscriberIds":{"' + secretsKeyId(lostKey) + '":[3,5]}');
    // Never a ciphertext or a password in the log.
    for (const r of rows) expect(text).not.toContain(r.enc.split(":").pop()!);
    expect(text).not.toContain("lost\"");

    // The periodic sweep: nothing to rewrite, the same undecryptable set is not logged again.
    const before = lines.length;
    expect(await rotation.sweep()).toMatchObject({ reencrypted: 0, undecryptable: 2 });
    expect(lines.length).toBe(before);

    // stop(): no new sweep runs.
    await pool.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id = 1", [encryptSecret(oldKey, "x")]);
    await rotation.stop();
    expect(await rotation.sweep()).toMatchObject({ reencrypted: 0, truncated: true });
    expect(secretKeyIdOf((await pool.query<{ enc: string }>("SELECT pppoe_password_enc AS enc FROM subscribers WHERE id = 1")).rows[0]!.enc)).toBe(secretsKeyId(oldKey));
  });
});
