// npm run secrets:rotate -w @isp/db [-- --dry-run]: re-encrypts every PPPoE password that
// is not on the current SECRETS_KEY (v1 values, values on a key in SECRETS_KEY_PREVIOUS),
// encrypts legacy plain-text ones (as the collector does), and reports what is left. Same environment as the collector: DATABASE_URL (else the
// embedded PostgreSQL), SECRETS_KEY (required here), SECRETS_KEY_PREVIOUS.
// Exit code: 0 when every password is on the current key afterwards, 2 when some remain
// (undecryptable, changed meanwhile, or --dry-run), 1 on an error.
// Prints counts and key ids only: never a key, a ciphertext or a password.
import pg from "pg";
import { resolveDatabaseUrl } from "../connection";
import { encryptPlainPasswords, parseKeyring, reencryptSecrets, secretsCensus, SecretsKeyError } from "../secrets";

const args = process.argv.slice(2);
const dryRun = args.includes("--dry-run");
const unknown = args.filter((a) => a !== "--dry-run");
if (unknown.length > 0) {
  console.error(`unknown argument(s): ${unknown.join(" ")}\nusage: npm run secrets:rotate -w @isp/db [-- --dry-run]`);
  process.exit(1);
}
if (!process.env.SECRETS_KEY) {
  console.error("SECRETS_KEY is not set: set it (and SECRETS_KEY_PREVIOUS) exactly as for the collector");
  process.exit(1);
}
let ring;
try {
  ring = parseKeyring(process.env.SECRETS_KEY, process.env.SECRETS_KEY_PREVIOUS);
} catch (err) {
  console.error(err instanceof SecretsKeyError ? err.message : String(err));
  process.exit(1);
}

const db = await resolveDatabaseUrl();
const client = new pg.Client({ connectionString: db.url, application_name: "isp-secrets-rotate" });
let code = 0;
try {
  await client.connect();
  const v2 = await client.query("SELECT 1 FROM pg_constraint WHERE conname = 'subscribers_password_enc_format_v2'");
  if (v2.rowCount === 0) throw new Error("the database is not migrated for v2 secrets: run `npm run db:migrate` first");
  console.log(`current key id ${ring.current.id}; previous key ids: ${ring.previous.map((p) => p.id).join(", ") || "(none)"}`);
  const before = await secretsCensus(client, ring);
  console.log(
    `before: ${before.current} on the current key, ${before.previous} on previous keys, ${before.v1} v1 (no key id), ${before.unknown} on unknown keys, ${before.plain} plain text`,
  );
  const started = performance.now();
  const r = await reencryptSecrets(client, ring, { dryRun, countCurrent: true });
  const ms = Math.round(performance.now() - started);
  console.log(`${dryRun ? "would re-encrypt" : "re-encrypted"}: ${r.reencrypted}${dryRun ? " (dry run: nothing written)" : ""} in ${ms} ms`);
  console.log(`already current: ${r.alreadyCurrent}`);
  if (r.skippedChanged > 0) console.log(`changed meanwhile (left for the next sweep): ${r.skippedChanged}`);
  console.log(`undecryptable: ${r.undecryptable}`);
  for (const [kid, e] of Object.entries(r.undecryptableByKeyId)) {
    const more = e.rows > e.subscriberIds.length ? ", ..." : "";
    console.log(`  key id ${kid}: ${e.rows} rows (subscriber ids ${e.subscriberIds.join(", ")}${more})`);
  }
  if (before.plain > 0) {
    if (dryRun) console.log(`plain text, would encrypt: ${before.plain}`);
    else console.log(`plain text encrypted: ${await encryptPlainPasswords(client, ring)}`);
  }
  const after = await secretsCensus(client, ring);
  console.log(`after: ${after.current} on the current key, ${after.previous} on previous keys, ${after.v1} v1, ${after.unknown} on unknown keys, ${after.plain} plain text`);
  if (after.previous + after.v1 + after.unknown + after.plain > 0) code = 2;
  else console.log("every password is on the current key: the previous keys can be removed from SECRETS_KEY_PREVIOUS");
} catch (err) {
  console.error(`secrets:rotate failed: ${(err as Error).message}`);
  code = 1;
} finally {
  await client.end().catch(() => undefined);
  await db.stop();
}
process.exit(code);
