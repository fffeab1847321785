import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_SUBSCRIBER, seed } from "./seed";
import { decryptSecret, DEV_SECRETS_KEY, encryptPlainPasswords, encryptSecret, parseSecretsKey, SecretsKeyError } from "./secrets";
import { createTestDatabase, type TestDatabase } from "./testing";

describe("secrets (pure)", () => {
  const key = parseSecretsKey("11".repeat(32));
  it("round-trips, uses a fresh IV each time, and refuses another key or a flipped byte", () => {
    const a = encryptSecret(key, "pässwörd");
    const b = encryptSecret(key, "pässwörd");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$/);
    expect(a).not.toContain("pässwörd");
    expect(decryptSecret(key, a)).toBe("pässwörd");
    expect(() => decryptSecret(DEV_SECRETS_KEY, a)).toThrow(SecretsKeyError);
    const parts = a.split(":");
    const ct = Buffer.from(parts[3]!, "base64");
    ct[0]! ^= 1;
    expect(() => decryptSecret(key, [parts[0], parts[1], parts[2], ct.toString("base64")].join(":"))).toThrow(SecretsKeyError);
    expect(() => parseSecretsKey("short")).toThrow(/32 bytes/);
    expect(parseSecretsKey(Buffer.alloc(32, 3).toString("base64"))).toEqual(Buffer.alloc(32, 3));
  });
});

describe("secrets at rest", () => {
  let db: TestDatabase;
  let client: pg.Client;
  const key = parseSecretsKey("22".repeat(32));
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
  });
});
