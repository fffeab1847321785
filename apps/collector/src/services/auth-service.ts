// Access-Request handler: the NAS is already authenticated by the server (secretFor and
// Message-Authenticator); here the subscriber is looked up by PPPoE username, the stored
// password is decrypted for this one check, the policy in auth-decision.ts decides, and
// the database is asked only for what a cache cannot answer safely: the active session
// count (simultaneous use) and an address lease. Every outcome is counted by reason and
// queued for the auth log without waiting for it.
import type { AuthLogRow } from "@isp/db/auth-log";
import { allocateAddress } from "@isp/db/ip-pools";
import { decryptSecret } from "@isp/db/secrets";
import type pg from "pg";
import type { Logger } from "../log";
import { decideAuth, normaliseMac, rejectMessages, type CredentialResult, type DecisionContext, type DropReason, type RejectReason } from "./auth-decision";
import type { AuthLogWriter } from "./auth-log-writer";
import type { OpenSessionIndex } from "./open-sessions";
import type { RouterCache, SubscriberCache, SubscriberInfo, UsageCache } from "./caches";
import { acceptAttributes, asVendor, replySummary } from "./reply-attributes";
import type { AuthHandler, AuthMethod, AuthReply } from "./radius-types";

export interface AuthService {
  handle: AuthHandler;
  /** Authenticity drops reported by the RADIUS server (they never reach handle). */
  logDrop(reason: DropReason, info: { nasIp: string; userName?: string; callingStationId?: string; method: AuthMethod }): void;
  /** Pools per router (null key: shared); reload when pools change. */
  reloadPools(): Promise<void>;
}

export interface AuthPolicyConfig {
  acctInterimIntervalS: number;
  sessionTimeoutS: number | null;
  suspendedPolicyDefault: "reject" | "walled_garden";
  walledGarden: DecisionContext["walledGarden"];
}

const disabledReasons: ReadonlySet<RejectReason> = new Set(["pending", "terminated", "suspended", "expired", "mac_mismatch"]);

export function createAuthService(deps: {
  pool: pg.Pool;
  routers: RouterCache;
  subscribers: SubscriberCache;
  usage: UsageCache;
  authLog: AuthLogWriter;
  secretsKey: Buffer;
  counters: { authAccepts: number; authRejects: number; rejectsByReason: Record<string, number> };
  markSeen: (routerId: number) => void;
  policy: AuthPolicyConfig;
  log: Logger;
  now?: () => Date;
  /** Accepts count towards simultaneous use this long, until their Accounting-Start is in radius_sessions. Default 15000. */
  acceptWindowMs?: number;
  /** Open sessions per subscriber (open-sessions.ts); without it, or while it cannot answer, every check asks the database. */
  openSessions?: OpenSessionIndex;
  /** Simultaneous-use checks answered by the index alone, and those that asked the database. */
  simultaneousUseCounters?: { fromIndex: number; fromDatabase: number };
}): AuthService {
  const { counters, log, pool } = deps;
  const now = deps.now ?? (() => new Date());
  let poolsByRouter = new Map<number | null, number[]>();
  let lastDecryptErrorLogMs = 0;
  const recentAccepts = createRecentAccepts(deps.acceptWindowMs ?? 15_000, () => now().getTime());

  const passwordOf = (s: SubscriberInfo): string | null => {
    if (s.passwordEnc) {
      try {
        return decryptSecret(deps.secretsKey, s.passwordEnc);
      } catch (err) {
        const t = Date.now();
        if (t - lastDecryptErrorLogMs > 10_000) {
          lastDecryptErrorLogMs = t;
          log.error("cannot decrypt a subscriber password: is SECRETS_KEY the key the passwords were encrypted with?", { error: (err as Error).message });
        }
        return null;
      }
    }
    return s.passwordPlain;
  };

  function record(row: Omit<AuthLogRow, "time">): void {
    deps.authLog.push({ time: now(), ...row });
  }

  function reject(reason: RejectReason, base: Omit<AuthLogRow, "time" | "result" | "reason" | "reply">): AuthReply {
    counters.authRejects++;
    counters.rejectsByReason[reason] = (counters.rejectsByReason[reason] ?? 0) + 1;
    record({ ...base, result: "reject", reason, reply: null });
    log.debug(`reject ${base.username}: ${reason}`, { nas: base.nasIp });
    return { code: "reject", attributes: [{ name: "Reply-Message", value: rejectMessages[reason] }], accountDisabled: disabledReasons.has(reason) };
  }

  return {
    async reloadPools() {
      const r = await pool.query<{ id: number; router_id: number | null }>("SELECT id, router_id FROM ip_pools WHERE active ORDER BY id");
      const m = new Map<number | null, number[]>();
      for (const row of r.rows) m.set(row.router_id, [...(m.get(row.router_id) ?? []), row.id]);
      poolsByRouter = m;
    },

    logDrop(reason, info) {
      const router = deps.routers.byIp(info.nasIp);
      counters.rejectsByReason[reason] = (counters.rejectsByReason[reason] ?? 0) + 1;
      record({
        routerId: router?.id ?? null,
        nasIp: router?.ip ?? info.nasIp,
        username: info.userName ?? "",
        subscriberId: null,
        callingStationId: info.callingStationId ?? null,
        method: info.method,
        result: "drop",
        reason,
        reply: null,
      });
    },

    async handle(req) {
      const router = deps.routers.byIp(req.sourceIp);
      if (router) deps.markSeen(router.id);
      const username = req.userName ?? "";
      const subscriber = req.userName ? await deps.subscribers.byUsername(req.userName) : null;
      const base = {
        routerId: router?.id ?? null,
        nasIp: router?.ip ?? req.sourceIp,
        username,
        subscriberId: subscriber?.id ?? null,
        callingStationId: req.callingStationId,
        method: req.method,
      };
      let credential: CredentialResult = "none";
      if (subscriber && req.credentialMatches) {
        const clear = passwordOf(subscriber);
        credential = clear === null ? "unavailable" : req.credentialMatches(clear) ? "ok" : "wrong";
      }
      const mac = normaliseMac(req.callingStationId);
      const d = decideAuth(subscriber, credential, {
        now: now(),
        mac,
        monthBytes: subscriber?.plan.fup ? deps.usage.monthBytes(subscriber.id) : 0n,
        acctInterimIntervalS: deps.policy.acctInterimIntervalS,
        sessionTimeoutS: deps.policy.sessionTimeoutS,
        suspendedPolicyDefault: deps.policy.suspendedPolicyDefault,
        walledGarden: deps.policy.walledGarden,
      });
      if (!d.accept) return reject(d.reason, base);
      const sub = d.subscriber;
      const grant = d.grant;

      let pooledIp: string | null = null;
      let reservation: RecentAccept | null = null;
      const routerPools = router ? (poolsByRouter.get(router.id) ?? []) : [];
      const candidatePools = [...routerPools, ...(poolsByRouter.get(null) ?? [])];
      try {
        // Sessions still open elsewhere. A re-dial from the same device on the same NAS
        // replaces its old session (whose Stop may be lost), so it does not count.
        const routerId = router?.id ?? null;
        const indexed = deps.openSessions?.of(sub.id) ?? null;
        let open = indexed
          ?.filter((s) => !(s.routerId === routerId && req.callingStationId !== null && s.callingStationId === req.callingStationId))
          .map((s) => ({ router_id: s.routerId, calling_station_id: s.callingStationId }));
        // The index may count a session closed outside the collector (or a Stop racing
        // this request): a refusal is only ever decided on the database's answer.
        if (!open || open.length + recentAccepts.others(sub.id, routerId, mac, open) >= sub.simultaneousUse) {
          const r = await pool.query<{ router_id: number; calling_station_id: string | null }>(
            `SELECT router_id, calling_station_id FROM radius_sessions
              WHERE subscriber_id = $1 AND status = 'active'
                AND NOT (router_id IS NOT DISTINCT FROM $2 AND calling_station_id IS NOT DISTINCT FROM $3 AND $3 IS NOT NULL)`,
            [sub.id, routerId, req.callingStationId],
          );
          open = r.rows;
          if (deps.simultaneousUseCounters) deps.simultaneousUseCounters.fromDatabase++;
        } else if (deps.simultaneousUseCounters) deps.simultaneousUseCounters.fromIndex++;
        // Checked and reserved in one synchronous step (after the query, when there is
        // one), so two devices dialling at the same moment cannot both pass.
        if (open.length + recentAccepts.others(sub.id, routerId, mac, open) >= sub.simultaneousUse) {
          return reject("simultaneous_use", base);
        }
        reservation = recentAccepts.add(sub.id, router?.id ?? null, mac);
        if (!grant.staticIp && candidatePools.length > 0) {
          const lease = await allocateAddress(pool, { poolIds: candidatePools, subscriberId: sub.id, routerId: router?.id ?? null });
          if (!lease) {
            recentAccepts.remove(sub.id, reservation);
            return reject("pool_exhausted", base);
          }
          pooledIp = lease.ip;
        }
      } catch (err) {
        if (reservation) recentAccepts.remove(sub.id, reservation);
        log.warn("auth: database check failed; rejecting", { user: username, error: (err as Error).message });
        return reject("internal_error", base);
      }
      if (d.learnMac) {
        // First login binds the device; the row change reloads the cache through NOTIFY.
        pool
          .query("UPDATE subscribers SET bound_mac = $2, updated_at = now() WHERE id = $1 AND bound_mac IS NULL", [sub.id, d.learnMac])
          .catch((err: Error) => log.warn("auth: MAC learning failed", { user: username, error: err.message }));
      }

      counters.authAccepts++;
      const vendor = asVendor(router?.vendor);
      const attributes = acceptAttributes(vendor, grant, { pooledIp, hasDatabasePools: candidatePools.length > 0 });
      const ip = grant.staticIp ?? pooledIp;
      record({ ...base, result: "accept", reason: grant.kind === "service" ? "ok" : grant.kind, reply: replySummary(grant, ip) });
      log.debug(`accept ${sub.username}`, { nas: router?.name ?? req.sourceIp, grant: grant.kind });
      return { code: "accept", attributes: attributes.map(([name, value]) => ({ name, value })) };
    },
  };
}

interface RecentAccept {
  routerId: number | null;
  mac: string | null;
  at: number;
}

/** Subscribers tracked at most; beyond it the oldest is forgotten (the database check still holds). */
export const recentAcceptsSubscribersMax = 100_000;

/**
 * Accepts not yet visible as sessions: between Access-Accept and Accounting-Start a second
 * device would otherwise pass the database check. Entries expire after windowMs; one that
 * already shows up as an active session (same NAS and device) is not counted twice.
 */
function createRecentAccepts(windowMs: number, nowMs: () => number) {
  const bySubscriber = new Map<number, RecentAccept[]>();
  const live = (id: number): RecentAccept[] => {
    const t = nowMs();
    const list = (bySubscriber.get(id) ?? []).filter((e) => t - e.at < windowMs);
    if (list.length === 0) bySubscriber.delete(id);
    else bySubscriber.set(id, list);
    return list;
  };
  return {
    others(id: number, routerId: number | null, mac: string | null, sessions: Array<{ router_id: number; calling_station_id: string | null }>): number {
      return live(id).filter(
        (e) =>
          !(e.mac === mac && e.routerId === routerId) &&
          !sessions.some((s) => s.router_id === e.routerId && (e.mac === null || normaliseMac(s.calling_station_id) === e.mac)),
      ).length;
    },
    add(id: number, routerId: number | null, mac: string | null): RecentAccept {
      const entry = { routerId, mac, at: nowMs() };
      // The same device (or, without Calling-Station-Id, the same NAS) replaces its entry.
      const list = live(id).filter((e) => !(e.mac === mac && e.routerId === routerId));
      bySubscriber.delete(id);
      bySubscriber.set(id, [...list, entry]);
      if (bySubscriber.size > recentAcceptsSubscribersMax) {
        const oldest = bySubscriber.keys().next();
        if (!oldest.done) bySubscriber.delete(oldest.value);
      }
      return entry;
    },
    remove(id: number, entry: RecentAccept): void {
      const list = (bySubscriber.get(id) ?? []).filter((e) => e !== entry);
      if (list.length === 0) bySubscriber.delete(id);
      else bySubscriber.set(id, list);
    },
  };
}
