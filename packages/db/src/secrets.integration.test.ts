import { execFile } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_SUBSCRIBER, seed } from "./seed";
import {
  createKeyring,
  decryptSecret,
  DEV_SECRETS_KEY,
  encryptBatchRowsMax,
  encryptPlainPasswords,
  encryptSecret,
  parseKeyring,
  parseSecretsKey,
  reencryptSecrets,
  secretKeyIdOf,
  secretsCensus,
  secretsKeyId,
  SecretsKeyError,
} from "./secrets";
import { createTestDatabase, type TestDatabase } from "./testing";

/** A value in the old v1 format (no key id), as stored before key rotation existed. */
function encryptV1(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `v1:${iv.toString("base64")}:${cipher.getAuthTag().toString("base64")}:${ct.toString("base64")}`;
}

/** Flips one bit of the ciphertext (the last field). */
function tamper(stored: string): string {
  const parts = stored.split(":");
  const ct = Buffer.from(parts[parts.length - 1]!, "base64");
  ct[0]! ^= 1;
  parts[parts.length - 1] = ct.toString("base64");
  return parts.join(":");
}

describe("secrets (pure)", () => {
  const key = parseSecretsKey("11".repeat(32));
  const oldKey = parseSecretsKey("33".repeat(32));
  const otherKey = parseSecretsKey("44".repeat(32));

  it("v2 round trip: fresh IV each time, key id in the value, refuses another key or a flipped byte", () => {
    const a = encryptSecret(key, "pässwörd");
    const b = encryptSecret(key, "pässwörd");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v2:[0-9a-f]{16}:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$/);
    expect(secretKeyIdOf(a)).toBe(secretsKeyId(key));
    expect(a).not.toContain("pässwörd");
    expect(decryptSecret(key, a)).toBe("pässwörd");
    expect(decryptSecret(createKeyring(key), "" + a)).toBe("pässwörd");
    expect(decryptSecret(key, encryptSecret(key, ""))).toBe("");
    expect(() => decryptSecret(DEV_SECRETS_KEY, a)).toThrow(SecretsKeyError);
    expect(() => decryptSecret(key, tamper(a))).toThrow(/altered or is corrupted/);
    expect(() => decryptSecret(key, "v2:short:x:y:z")).toThrow(SecretsKeyError);
    expect(() => decryptSecret(key, "plain text")).toThrow(SecretsKeyError);
    expect(() => parseSecretsKey("short")).toThrow(/32 bytes/);
    expect(parseSecretsKey(Buffer.alloc(32, 3).toString("base64"))).toEqual(Buffer.alloc(32, 3));
  });

  it("key id: 16 hex digits, stable per key, different per key, and not the key", () => {
    expect(secretsKeyId(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(secretsKeyId(Buffer.from("11".repeat(32), "hex"))).toBe(secretsKeyId(key));
    expect(secretsKeyId(oldKey)).not.toBe(secretsKeyId(key));
    expect(key.toString("hex")).not.toContain(secretsKeyId(key));
  });

  it("v1 compatibility: decrypts with the current key, then the previous ones", () => {
    const ring = createKeyring(key, [otherKey, oldKey]);
    expect(decryptSecret(ring, encryptV1(key, "on-current"))).toBe("on-current");
    expect(decryptSecret(ring, encryptV1(oldKey, "on-old"))).toBe("on-old");
    expect(secretKeyIdOf(encryptV1(key, "x"))).toBeNull();
    expect(() => decryptSecret(createKeyring(key, [otherKey]), encryptV1(oldKey, "on-old"))).toThrow(/cannot decrypt v1 secret with any configured key \(2 tried\)/);
    expect(() => decryptSecret(ring, tamper(encryptV1(oldKey, "x")))).toThrow(SecretsKeyError);
  });

  it("decrypts a value on a previous key by its key id; encryption always uses the current key", () => {
    const onOld = encryptSecret(oldKey, "pw-old");
    const ring = createKeyring(key, [oldKey]);
    expect(decryptSecret(ring, onOld)).toBe("pw-old");
    const fresh = encryptSecret(ring, "pw-new");
    expect(secretKeyIdOf(fresh)).toBe(ring.current.id);
    expect(decryptSecret(createKeyring(key), fresh)).toBe("pw-new");
    expect(() => decryptSecret(oldKey, fresh)).toThrow(SecretsKeyError);
  });

  it("unknown key id: SecretsKeyError naming the id, never the value", () => {
    const onOther = encryptSecret(otherKey, "secret-pw");
    let err: unknown;
    try {
      decryptSecret(createKeyring(key, [oldKey]), onOther);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecretsKeyError);
    const msg = (err as Error).message;
    expect(msg).toContain(secretsKeyId(otherKey));
    expect(msg).toMatch(/neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS/);
    expect(msg).not.toContain("secret-pw");
    expect(msg).not.toContain(onOther.split(":")[4]);
  });

  it("a tampered key id is an unknown key, a tampered v2 value on a known key is refused", () => {
    const ring = createKeyring(key, [oldKey]);
    const v = encryptSecret(ring, "pw");
    const swapped = `v2:${secretsKeyId(oldKey)}:${v.slice(3 + 16 + 1)}`;
    expect(() => decryptSecret(ring, swapped)).toThrow(/key id [0-9a-f]{16}: the value was altered/);
    expect(() => decryptSecret(ring, tamper(v))).toThrow(SecretsKeyError);
  });

  it("parseKeyring: comma-separated previous keys, hex or base64 or 'dev'; duplicates dropped; bad keys named by position", () => {
    const ring = parseKeyring("11".repeat(32), ` ${"33".repeat(32)} , ${Buffer.alloc(32, 0x44).toString("base64")},dev,${"11".repeat(32)}`);
    expect(ring.current.id).toBe(secretsKeyId(key));
    expect(ring.previous.map((p) => p.id)).toEqual([secretsKeyId(oldKey), secretsKeyId(otherKey), secretsKeyId(DEV_SECRETS_KEY)]);
    expect(parseKeyring(undefined, undefined).current.key).toEqual(DEV_SECRETS_KEY);
    expect(parseKeyring("11".repeat(32), "").previous).toEqual([]);
    expect(() => parseKeyring("11".repeat(32), `${"33".repeat(32)},abcd`)).toThrow(/SECRETS_KEY_PREVIOUS \(key 2 of 2\) must be 32 bytes/);
    expect(() => parseKeyring("11".repeat(32), "abcd")).toThrow(/^SECRETS_KEY_PREVIOUS must be 32 bytes/);
    expect(() => parseKeyring("abcd", undefined)).toThrow(/^SECRETS_KEY must be 32 bytes/);
  });
});

describe("secrets at rest", () => {
  let db: TestDatabase;
  let client: pg.Client;
  const key = parseSecretsKey("22".repeat(32));
  const oldKey = parseSecretsKey("55".repeat(32));
  const lostKey = parseSecretsKey("66".repeat(32));
  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it("the seed encrypts with the key it is given; legacy plain rows are encrypted and cleared by the sweep", async () => {
    await seed(db.prisma, { subscribers: 30, secretsKey: key });
    const demo = (await client.query("SELECT pppoe_password, pppoe_password_enc FROM subscribers WHERE pppoe_username = $1", [DEMO_SUBSCRIBER.username])).rows[0];
    expect(demo.pppoe_password).toBeNull();
    expect(decryptSecret(key, demo.pppoe_password_enc)).toBe(DEMO_SUBSCRIBER.password);
    // A legacy writer (or an old row) stores plain text.
    await client.query("UPDATE subscribers SET pppoe_password = 'legacy-pw', pppoe_password_enc = NULL WHERE id IN (SELECT id FROM subscribers ORDER BY id DESC LIMIT 3)");
    expect(await encryptPlainPasswords(client, key)).toBe(3);
    expect(await encryptPlainPasswords(client, key)).toBe(0);
    const rows = (await client.query("SELECT pppoe_password, pppoe_password_enc FROM subscribers ORDER BY id DESC LIMIT 3")).rows;
    for (const r of rows) {
      expect(r.pppoe_password).toBeNull();
      expect(decryptSecret(key, r.pppoe_password_enc)).toBe("legacy-pw");
    }
    await expect(client.query("UPDATE subscribers SET pppoe_password = NULL, pppoe_password_enc = NULL WHERE id = 1")).rejects.toMatchObject({ code: "23514" });
    await expect(client.query("UPDATE subscribers SET pppoe_password_enc = 'plain text' WHERE id = 1")).rejects.toMatchObject({ code: "23514" });
    await expect(client.query("UPDATE subscribers SET pppoe_password_enc = 'v2:XYZ:a:b:c' WHERE id = 1")).rejects.toMatchObject({ code: "23514" });
    // Both formats pass the check.
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id = 1", [encryptV1(key, "v1-pw")]);
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id = 1", [encryptSecret(key, DEMO_SUBSCRIBER.password)]);
  });

  it("rotation: the sweep re-encrypts only stale rows (v1 and previous key), reports undecryptable by key id, and is idempotent", async () => {
    const n = 1200; // more than two batches
    await client.query("DELETE FROM subscribers");
    // Row i: 0 mod 4 on the current key (v2), 1 on the old key (v2), 2 v1 on the old key, 3 v1 on the current key;
    // and every 100th row on a key nobody configured any more.
    const ids: number[] = [];
    const encs: string[] = [];
    const plain = (i: number) => `pw-${i}`;
    for (let i = 0; i < n; i++) {
      const p = plain(i);
      encs.push(i % 100 === 99 ? encryptSecret(lostKey, p) : [encryptSecret(key, p), encryptSecret(oldKey, p), encryptV1(oldKey, p), encryptV1(key, p)][i % 4]!);
      ids.push(i + 1);
    }
    await client.query(
      `INSERT INTO subscribers (id, account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password_enc)
       SELECT t.id, 'A-' || t.id, 'n', '0300', '1', 'x', 'Karachi', (SELECT min(id) FROM plans), 'rot-' || t.id, t.enc
         FROM unnest($1::int[], $2::text[]) AS t(id, enc)`,
      [ids, encs],
    );
    const ring = createKeyring(key, [oldKey]);
    const before = await secretsCensus(client, ring);
    const lost = secretsKeyId(lostKey);
    expect(before).toMatchObject({ current: 300, previous: 300, v1: 588, unknown: 12, unknownKeyIds: [lost], plain: 0 });

    const currentBefore = (await client.query<{ id: number; enc: string }>("SELECT id, pppoe_password_enc AS enc FROM subscribers WHERE starts_with(pppoe_password_enc, $1)", [`v2:${ring.current.id}:`])).rows;
    expect(currentBefore).toHaveLength(300);

    const dry = await reencryptSecrets(client, ring, { dryRun: true, countCurrent: true });
    expect(dry).toMatchObject({ reencrypted: 888, undecryptable: 12, alreadyCurrent: 300, truncated: false });
    expect((await secretsCensus(client, ring)).previous).toBe(300); // nothing written

    const r = await reencryptSecrets(client, ring, { countCurrent: true });
    expect(r).toMatchObject({ reencrypted: 888, skippedChanged: 0, undecryptable: 12, alreadyCurrent: 300, truncated: false });
    expect(r.undecryptableByKeyId[lost]!.rows).toBe(12);
    expect(r.undecryptableByKeyId[lost]!.subscriberIds).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200]);
    expect(Object.keys(r.undecryptableByKeyId)).toEqual([lost]);

    // Rows already on the current key were not rewritten.
    const currentAfter = new Map((await client.query<{ id: number; enc: string }>("SELECT id, pppoe_password_enc AS enc FROM subscribers")).rows.map((x) => [x.id, x.enc]));
    for (const c of currentBefore) expect(currentAfter.get(c.id)).toBe(c.enc);
    // Every other readable row is now v2 on the current key and opens with the current key alone.
    const alone = createKeyring(key);
    for (const [id, enc] of currentAfter) {
      if (id % 100 === 0) {
        expect(enc).toBe(encs[id - 1]); // the undecryptable row is left as it was
        continue;
      }
      expect(secretKeyIdOf(enc)).toBe(ring.current.id);
      expect(decryptSecret(alone, enc)).toBe(plain(id - 1));
    }
    expect(await secretsCensus(client, ring)).toMatchObject({ current: 1188, previous: 0, v1: 0, unknown: 12 });

    // Idempotent: a second sweep has nothing to do but the same undecryptable rows.
    expect(await reencryptSecrets(client, ring, { countCurrent: true })).toMatchObject({ reencrypted: 0, skippedChanged: 0, undecryptable: 12, alreadyCurrent: 1188 });
    // With the lost key back in the ring, those 12 are re-encrypted too.
    expect(await reencryptSecrets(client, createKeyring(key, [lostKey]))).toMatchObject({ reencrypted: 12, undecryptable: 0 });
    // rowsMax bounds one sweep.
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id <= 10", [encryptSecret(oldKey, "x")]);
    expect(await reencryptSecrets(client, ring, { rowsMax: 4 })).toMatchObject({ reencrypted: 4, truncated: true });
    expect(await reencryptSecrets(client, ring)).toMatchObject({ reencrypted: 6, truncated: false });
    expect(encryptBatchRowsMax).toBe(500);
  });

  it("the sweep's rewrite sends no subscriber_changed NOTIFY (caches keep the old ciphertext, which still opens); other updates do", async () => {
    const ring = createKeyring(key, [oldKey]);
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id <= 600", [encryptSecret(oldKey, "n-pw")]);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const got: string[] = [];
    listener.on("notification", (n) => got.push(n.payload ?? ""));
    await listener.query("LISTEN subscriber_changed");
    try {
      // Two batches: 500 rows (an empty-payload "reload everything") and 100 rows (one per id) if it did notify.
      expect(await reencryptSecrets(client, ring)).toMatchObject({ reencrypted: 600 });
      // The setting was local to the sweep's statement: this plain update on the same connection notifies.
      await client.query("UPDATE subscribers SET name = name WHERE id = 7");
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual(["7"]);
    } finally {
      await listener.end();
    }
  });

  it("a password changed while the sweep runs is not overwritten by the sweep", async () => {
    const ring = createKeyring(key, [oldKey]);
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id <= 3", [encryptSecret(oldKey, "old-pw")]);
    // A Queryable that, right after the sweep has read its batch, lets another writer set a
    // new password on row 2 (a web-app change, an operator reset) before the sweep's UPDATE.
    const newEnc = encryptSecret(oldKey, "changed-meanwhile");
    let interfered = false;
    const racing = {
      query: async <R>(text: string, params?: unknown[]) => {
        const res = await client.query(text, params);
        if (!interfered && text.includes("SELECT id, pppoe_password_enc AS enc")) {
          interfered = true;
          await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id = 2", [newEnc]);
        }
        return { rows: res.rows as R[] };
      },
    };
    const r = await reencryptSecrets(racing, ring);
    expect(interfered).toBe(true);
    expect(r).toMatchObject({ reencrypted: 2, skippedChanged: 1 });
    const row2 = (await client.query<{ enc: string }>("SELECT pppoe_password_enc AS enc FROM subscribers WHERE id = 2")).rows[0]!.enc;
    expect(row2).toBe(newEnc);
    expect(decryptSecret(ring, row2)).toBe("changed-meanwhile");
    // The next sweep takes it.
    expect(await reencryptSecrets(client, ring)).toMatchObject({ reencrypted: 1, skippedChanged: 0 });
    expect(decryptSecret(createKeyring(key), (await client.query<{ enc: string }>("SELECT pppoe_password_enc AS enc FROM subscribers WHERE id = 2")).rows[0]!.enc)).toBe(
      "changed-meanwhile",
    );
  });

  it("CLI secrets:rotate: dry run, counts, undecryptable key ids and subscriber ids, exit codes; a bad key is refused without echoing it", async () => {
    const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
    const cli = (env: Record<string, string>, args: string[] = []) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(process.execPath, [join(pkg, "..", "..", "node_modules", "tsx", "dist", "cli.mjs"), join(pkg, "src", "cli", "secrets-rotate.ts"), ...args], {
          env: { PATH: process.env.PATH ?? "", DATABASE_URL: db.url, ...env },
          timeout: 60_000,
        }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
      });
    const keys = { SECRETS_KEY: key.toString("hex"), SECRETS_KEY_PREVIOUS: `${oldKey.toString("hex")}` };
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1", [encryptSecret(key, "pw-current-Zq8")]);
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id IN (1, 2, 3, 4, 5)", [encryptSecret(oldKey, "pw-old-Kx3")]);
    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id IN (2, 6)", [encryptSecret(lostKey, "lost")]);
    const total = (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM subscribers")).rows[0]!.n;

    const dry = await cli(keys, ["--dry-run"]);
    expect(dry.code).toBe(2);
    expect(dry.out).toContain(`current key id ${secretsKeyId(key)}; previous key ids: ${secretsKeyId(oldKey)}`);
    expect(dry.out).toContain("would re-encrypt: 4 (dry run: nothing written)");
    expect(dry.out).toContain(`key id ${secretsKeyId(lostKey)}: 2 rows (subscriber ids 2, 6)`);
    expect((await secretsCensus(client, createKeyring(key, [oldKey]))).previous).toBe(4);

    const real = await cli(keys);
    expect(real.code).toBe(2); // two rows are still on a key nobody has
    expect(real.out).toMatch(/re-encrypted: 4 in \d+ ms/);
    expect(real.out).toContain(`already current: ${total - 6}`);
    expect(real.out).toContain("undecryptable: 2");
    expect(real.out).toContain(`after: ${total - 2} on the current key, 0 on previous keys, 0 v1, 2 on unknown keys, 0 plain text`);
    for (const secret of [key.toString("hex"), oldKey.toString("hex"), "pw-current-Zq8", "pw-old-Kx3"]) expect(real.out).not.toContain(secret);

    await client.query("UPDATE subscribers SET pppoe_password_enc = $1 WHERE id IN (2, 6)", [encryptSecret(key, "reset")]);
    const done = await cli(keys);
    expect(done.code).toBe(0);
    expect(done.out).toContain("re-encrypted: 0");
    expect(done.out).toContain("every password is on the current key: the previous keys can be removed from SECRETS_KEY_PREVIOUS");

    const bad = await cli({ SECRETS_KEY: key.toString("hex"), SECRETS_KEY_PREVIOUS: "0123456789abcdef" });
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("SECRETS_KEY_PREVIOUS must be 32 bytes");
    expect(bad.out).not.toContain("0123456789abcdef");
    expect((await cli({})).out).toContain("SECRETS_KEY is not set");
  });
});
