// SECRETS_KEY rotation inside the collector (docs/radius-auth.md, "Rotating SECRETS_KEY"):
// at start a census of the stored passwords by key id (one grouped scan, logged), then,
// in the background, the re-encryption sweep onto the current key; the same sweep again on
// a timer, for values another writer (an older collector, a restore) left on a previous
// key. The sweep sends no cache NOTIFY and the cache keeps the old ciphertexts, which the
// keyring still opens; RADIUS is never waiting for it. Logs counts, key ids and subscriber
// ids, never a password or a ciphertext.
import { reencryptSecrets, secretsCensus, type ReencryptReport, type SecretsCensus, type SecretsKeyring } from "@isp/db/secrets";
import type { Queryable } from "@isp/db/timeseries";
import type { Logger } from "../log";

export interface SecretsRotation {
  /** Logs the census; starts the sweep in the background when anything is on a previous key or v1. Never throws. */
  atStart(): Promise<SecretsCensus | null>;
  /** One sweep (joins the one in flight); logs only when it rewrote something or the undecryptable set changed. */
  sweep(): Promise<ReencryptReport>;
  /** Resolves when no sweep is running (tests). */
  idle(): Promise<void>;
  /** Ends a running sweep after its current batch (at most encryptBatchRowsMax rows); no new sweep starts. */
  stop(): Promise<void>;
}

function undecryptableSummary(r: ReencryptReport): string {
  return Object.entries(r.undecryptableByKeyId)
    .map(([kid, e]) => `${kid}: ${e.rows}`)
    .join(", ");
}

export function createSecretsRotation(deps: { q: Queryable; keyring: SecretsKeyring; log: Logger }): SecretsRotation {
  const { q, keyring, log } = deps;
  let lastUndecryptable = "";
  let running: Promise<ReencryptReport> | null = null;
  let stopped = false;

  const report = (r: ReencryptReport, ms: number) => {
    if (r.reencrypted > 0) log.info(`re-encrypted ${r.reencrypted} PPPoE passwords with the current key ${keyring.current.id} in ${ms} ms`);
    const summary = undecryptableSummary(r);
    if (r.undecryptable > 0 && summary !== lastUndecryptable) {
      log.error(
        `${r.undecryptable} PPPoE passwords cannot be decrypted with any configured key: these subscribers cannot log in; ` +
          "add the key with this id to SECRETS_KEY_PREVIOUS (v1: no id), or set their passwords again",
        { byKeyId: summary, subscriberIds: Object.fromEntries(Object.entries(r.undecryptableByKeyId).map(([k, e]) => [k, e.subscriberIds])) },
      );
    }
    lastUndecryptable = summary;
    if (r.reencrypted > 0 && keyring.previous.length > 0 && r.undecryptable === 0 && r.skippedChanged === 0 && !r.truncated) {
      log.info("every PPPoE password is on the current key: SECRETS_KEY_PREVIOUS can be emptied at the next restart (check with `npm run secrets:rotate`)");
    }
  };

  const sweep = (): Promise<ReencryptReport> => {
    if (running) return running;
    const started = performance.now();
    if (stopped) return Promise.resolve({ reencrypted: 0, skippedChanged: 0, undecryptable: 0, undecryptableByKeyId: {}, alreadyCurrent: null, truncated: true });
    const p = reencryptSecrets(q, keyring, { stop: () => stopped })
      .then((r) => {
        report(r, Math.round(performance.now() - started));
        return r;
      })
      .finally(() => {
        running = null;
      });
    running = p;
    return p;
  };

  return {
    async atStart() {
      try {
        const c = await secretsCensus(q, keyring);
        log.info(
          `secrets: current key ${keyring.current.id}, previous keys: ${keyring.previous.map((p) => p.id).join(", ") || "none"}; ` +
            `passwords: ${c.current} on the current key, ${c.previous} on previous keys, ${c.v1} v1 (no key id), ${c.unknown} on unknown keys`,
          c.unknown > 0 ? { unknownKeyIds: c.unknownKeyIds } : undefined,
        );
        if (c.unknown > 0) {
          log.error(`${c.unknown} PPPoE passwords are on keys that are neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS: these subscribers cannot log in`, {
            unknownKeyIds: c.unknownKeyIds,
          });
        }
        if (c.previous + c.v1 > 0) {
          void sweep().catch((err: Error) => log.warn("secrets re-encryption failed (passwords on previous keys still work; retried on the timer)", { error: err.message }));
        }
        return c;
      } catch (err) {
        log.error("secrets census at start failed", { error: (err as Error).message });
        return null;
      }
    },
    sweep,
    async idle() {
      await running?.catch(() => undefined);
    },
    async stop() {
      stopped = true;
      await running?.catch(() => undefined);
    },
  };
}
