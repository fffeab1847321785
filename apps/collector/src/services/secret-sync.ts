// /ppp/secret sync for routers that authenticate PPPoE locally (routers.auth_mode = local)
// instead of asking RADIUS (docs/enforcement.md, "Local authentication"). Billing is the
// truth: every subscriber who is not terminated has a secret on every active local-auth
// router with an adapter — password (decrypted from pppoe_password_enc), profile (the
// plan's ppp_profile, else its code), disabled while suspended or expired, remote-address
// for a static IP, comment "isp sub <id>" marking it as ours. A terminated subscriber's
// secret is removed. Two ways in: the enforcement worker's hook after every action
// (onAction, immediate, bounded queue) and the reconciler's full comparison per run
// (reconcileRouter), which also repairs whatever the hook missed.
import type pg from "pg";
import { decryptSecret, type SecretsKeys } from "@isp/db/secrets";
import type { PppSecret, RouterOsAdapter, SecretSpec } from "@isp/network/routeros/adapter";
import type { Logger } from "../log";
import type { EnforcementKind, RouterAccess } from "./enforcement-worker";

export interface SecretSyncConfig {
  /** The local-auth router list is read at most this often by the hook. */
  routerListTtlMs: number;
  /** Subscribers waiting for a hook sync, at most; beyond it they are dropped (counted) and left to the reconciler. */
  queueMax: number;
  /** Hook syncs running at once. */
  concurrency: number;
  /** Most repairs of each kind per router per reconciler run. */
  repairsPerRunMax: number;
  /** Subscribers compared per router per run, at most (bounds the query and the map). */
  subscribersMax: number;
}

export const defaultSecretSyncConfig: SecretSyncConfig = {
  routerListTtlMs: 5_000,
  queueMax: 10_000,
  concurrency: 4,
  repairsPerRunMax: 500,
  subscribersMax: 200_000,
};

/** Billing changes that change a secret; the others (kick, throttle, walled garden) do not. */
const secretKinds = new Set<EnforcementKind>(["suspend", "restore", "change_plan", "terminate"]);

/** Secrets the collector manages carry this comment; only those are removed as extras. */
export const secretComment = (subscriberId: number) => `isp sub ${subscriberId}`;
const ourComment = /^isp sub (\d+)$/;

export type SecretRepair = "secret_added" | "secret_updated" | "secret_removed";

export interface SecretSyncCounters {
  synced: number;
  removed: number;
  unchanged: number;
  errors: number;
  dropped: number;
  decryptFailures: number;
}

export interface SecretSync {
  /** The worker's hook: an action for this subscriber finished; sync their secret on local-auth routers. Never throws. */
  onAction(subscriberId: number, kind: EnforcementKind): void;
  /** Syncs one subscriber on every local-auth router now (tests, the hook's worker). */
  syncSubscriber(subscriberId: number, cause: string): Promise<void>;
  /** The reconciler's comparison for one local-auth router: missing, different and extra secrets repaired. */
  reconcileRouter(router: RouterAccess, adapter: RouterOsAdapter): Promise<Record<SecretRepair, number>>;
  /** Waits for the hook's queue to drain (stop, tests). */
  idle(): Promise<void>;
  readonly counters: SecretSyncCounters;
}

interface DesiredRow {
  id: number;
  username: string;
  password_plain: string | null;
  password_enc: string | null;
  status: "active" | "suspended" | "terminated";
  expired: boolean;
  static_ip: string | null;
  profile: string;
}

const DESIRED_SQL = `
SELECT sub.id, sub.pppoe_username AS username, sub.pppoe_password AS password_plain, sub.pppoe_password_enc AS password_enc,
       sub.status::text AS status, (sub.expires_at IS NOT NULL AND sub.expires_at <= now()) AS expired,
       host(sub.static_ip) AS static_ip, COALESCE(p.ppp_profile, p.code) AS profile
  FROM subscribers sub JOIN plans p ON p.id = sub.plan_id`;

export function createSecretSync(deps: {
  pool: pg.Pool;
  adapterFor: (router: RouterAccess) => RouterOsAdapter | null;
  /** The collector's keyring (SECRETS_KEY + SECRETS_KEY_PREVIOUS). */
  secretsKey: SecretsKeys;
  log: Logger;
  config?: Partial<SecretSyncConfig>;
}): SecretSync {
  const cfg = { ...defaultSecretSyncConfig, ...deps.config };
  const { pool, log } = deps;
  const counters: SecretSyncCounters = { synced: 0, removed: 0, unchanged: 0, errors: 0, dropped: 0, decryptFailures: 0 };
  let routers: { at: number; list: RouterAccess[] } | null = null;

  const localRouters = async (): Promise<RouterAccess[]> => {
    if (routers && Date.now() - routers.at < cfg.routerListTtlMs) return routers.list;
    const r = await pool.query<RouterAccess>(
      `SELECT id, name, host(ip_address) AS ip, api_kind::text AS "apiKind", api_port AS "apiPort",
              api_username AS "apiUsername", api_password AS "apiPassword", rest_url AS "restUrl",
              api_tls AS "apiTls", tls_fingerprint AS "tlsFingerprint", tls_insecure AS "tlsInsecure"
         FROM routers WHERE active AND auth_mode = 'local' AND api_kind <> 'none' ORDER BY id`,
    );
    routers = { at: Date.now(), list: r.rows };
    return r.rows;
  };

  /** The secret billing wants, or null when it must not exist (terminated), or undefined when the password cannot be read. */
  const specOf = (row: DesiredRow): SecretSpec | null | undefined => {
    if (row.status === "terminated") return null;
    let password = row.password_plain;
    if (password === null && row.password_enc !== null) {
      try {
        password = decryptSecret(deps.secretsKey, row.password_enc);
      } catch (err) {
        counters.decryptFailures++;
        log.warn(`secret of subscriber ${row.id} not synced: ${(err as Error).message}`);
        return undefined;
      }
    }
    if (password === null) return undefined;
    return {
      password,
      profile: row.profile,
      disabled: row.status !== "active" || row.expired,
      service: "pppoe",
      remoteAddress: row.static_ip,
      comment: secretComment(row.id),
    };
  };

  const audit = (action: string, subscriberId: number | null, details: object) =>
    pool.query(`INSERT INTO audit_log (actor, action, entity_type, entity_id, details) VALUES ('collector', $1, $2, $3, $4::jsonb)`, [
      action,
      subscriberId === null ? "router" : "subscriber",
      String(subscriberId ?? ""),
      JSON.stringify(details),
    ]);

  const syncSubscriber = async (subscriberId: number, cause: string): Promise<void> => {
    const list = await localRouters();
    if (!list.length) return;
    const row = (await pool.query<DesiredRow>(`${DESIRED_SQL} WHERE sub.id = $1`, [subscriberId])).rows[0];
    if (!row) return;
    const spec = specOf(row);
    if (spec === undefined) return;
    for (const router of list) {
      const adapter = deps.adapterFor(router);
      if (!adapter) continue;
      const apiPath = router.apiKind === "rest" ? "rest" : "api";
      try {
        if (spec === null) {
          const r = await adapter.removeSecret(row.username);
          if (r.removed) {
            counters.removed++;
            await audit("secret.removed", row.id, { routerId: router.id, routerName: router.name, username: row.username, cause, path: apiPath });
          } else counters.unchanged++;
          continue;
        }
        const r = await adapter.syncSecret(row.username, spec);
        if (r.changed) {
          counters.synced++;
          await audit("secret.synced", row.id, { routerId: router.id, routerName: router.name, username: row.username, cause, created: r.created, fields: r.fields, disabled: spec.disabled, profile: spec.profile, path: apiPath });
        } else counters.unchanged++;
      } catch (err) {
        // Left to the reconciler's next run on this router.
        counters.errors++;
        log.warn(`secret sync of ${row.username} on ${router.name} failed`, { error: (err as Error).message, cause });
      }
    }
  };

  // The hook's bounded queue: a subscriber queued twice is synced once (with the latest state).
  const queue = new Set<number>();
  let running = 0;
  const waiters: Array<() => void> = [];
  const drain = (): void => {
    while (running < cfg.concurrency && queue.size > 0) {
      const id = queue.values().next().value as number;
      queue.delete(id);
      running++;
      void syncSubscriber(id, "enforcement")
        .catch((err: Error) => {
          counters.errors++;
          log.warn(`secret sync of subscriber ${id} failed`, { error: err.message });
        })
        .finally(() => {
          running--;
          drain();
          if (running === 0 && queue.size === 0) for (const w of waiters.splice(0)) w();
        });
    }
  };

  const reconcileRouter = async (router: RouterAccess, adapter: RouterOsAdapter): Promise<Record<SecretRepair, number>> => {
    const repairs: Record<SecretRepair, number> = { secret_added: 0, secret_updated: 0, secret_removed: 0 };
    const apiPath = router.apiKind === "rest" ? "rest" : "api";
    const onRouter = await adapter.listSecrets();
    const byName = new Map<string, PppSecret>(onRouter.map((s) => [s.name, s]));
    const rows = (await pool.query<DesiredRow>(`${DESIRED_SQL} ORDER BY sub.id LIMIT $1`, [cfg.subscribersMax])).rows;
    const wanted = new Map<string, DesiredRow>(rows.map((r) => [r.username, r]));
    const record = async (repair: SecretRepair, subscriberId: number | null, details: object) => {
      repairs[repair]++;
      await pool.query(`INSERT INTO audit_log (actor, action, entity_type, entity_id, details) VALUES ('reconciler', $1, $2, $3, $4::jsonb)`, [
        `reconcile.${repair}`,
        subscriberId === null ? "router" : "subscriber",
        String(subscriberId ?? router.id),
        JSON.stringify({ routerId: router.id, routerName: router.name, path: apiPath, ...details }),
      ]);
    };

    // Missing and different.
    for (const row of rows) {
      const spec = specOf(row);
      if (spec === undefined) continue;
      const have = byName.get(row.username);
      if (spec === null) {
        if (have && repairs.secret_removed < cfg.repairsPerRunMax) {
          await adapter.removeSecret(row.username);
          await record("secret_removed", row.id, { username: row.username, why: "terminated" });
        }
        continue;
      }
      if (have && sameSecret(have, spec)) continue;
      const repair: SecretRepair = have ? "secret_updated" : "secret_added";
      if (repairs[repair] >= cfg.repairsPerRunMax) continue;
      const r = await adapter.syncSecret(row.username, spec);
      if (r.changed) await record(repair, row.id, { username: row.username, fields: r.fields, disabled: spec.disabled, profile: spec.profile });
    }
    // Extra: ours (by comment) but no longer any subscriber's. Secrets without our comment
    // (staff, other services) are never touched.
    for (const s of onRouter) {
      if (wanted.has(s.name) || repairs.secret_removed >= cfg.repairsPerRunMax) continue;
      const m = ourComment.exec(s.comment);
      if (!m) continue;
      await adapter.removeSecret(s.name);
      await record("secret_removed", null, { username: s.name, subscriberId: Number(m[1]), why: "no such subscriber" });
    }
    return repairs;
  };

  return {
    onAction(subscriberId, kind) {
      if (!secretKinds.has(kind)) return;
      if (queue.size >= cfg.queueMax && !queue.has(subscriberId)) {
        counters.dropped++;
        return;
      }
      queue.add(subscriberId);
      drain();
    },
    syncSubscriber,
    reconcileRouter,
    idle() {
      if (running === 0 && queue.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    counters,
  };
}

/** What syncSecret would compare, without a round trip. */
function sameSecret(have: PppSecret, spec: SecretSpec): boolean {
  const addr = spec.remoteAddress ? spec.remoteAddress.replace(/\/32$/, "") : undefined;
  return (
    have.password === spec.password &&
    have.profile === spec.profile &&
    have.disabled === spec.disabled &&
    have.service === (spec.service ?? "pppoe") &&
    have.remoteAddress === addr &&
    (spec.comment === undefined || have.comment === spec.comment)
  );
}
