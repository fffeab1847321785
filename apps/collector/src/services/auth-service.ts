// Access-Request handler: the NAS is already authenticated by the server (secretFor and
// Message-Authenticator); here the subscriber is looked up by PPPoE username, the stored
// password is decrypted for this one check, the policy in auth-decision.ts decides, and
// the database is asked only for what a cache cannot answer safely: the active session
// count (simultaneous use) and an address lease. Every outcome is counted by reason and
// queued for the auth log without waiting for it.
import type { AuthLogRow } from "@isp/db/auth-log";
import { allocateAddress } from "@isp/db/ip-pools";
import { allocatePrefix, ipv6PoolsForRouters, type Ipv6Lease } from "@isp/db/ipv6-pools";
import { decryptSecret, type SecretsKeys } from "@isp/db/secrets";
import type pg from "pg";
import type { Logger } from "../log";
import { decideAuth, normaliseMac, rejectMessages, type CredentialResult, type DecisionContext, type DropReason, type RejectReason } from "./auth-decision";
import type { AuthLogWriter } from "./auth-log-writer";
import type { OpenSessionIndex } from "./open-sessions";
import type { RouterCache, RouterInfo, SubscriberCache, SubscriberInfo, UsageCache } from "./caches";
import { acceptAttributes, asVendor, replySummary } from "./reply-attributes";
import type { AuthHandler, AuthMethod, AuthReply, AuthRequestView } from "./radius-types";

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
  /** The keyring (SECRETS_KEY + SECRETS_KEY_PREVIOUS) or one key: a v2 value names its key, so a decrypt is one attempt. */
  secretsKey: SecretsKeys;
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
  // IPv6 delegation pools (key null: shared). Empty map = no IPv6: the accept path asks nothing more.
  let poolsV6ByRouter = new Map<number | null, number[]>();
  let lastV6WarnMs = 0;
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
          // The message names the missing key id (never the value): add that key to SECRETS_KEY_PREVIOUS.
          log.error("cannot decrypt a subscriber password: is its key SECRETS_KEY or in SECRETS_KEY_PREVIOUS?", { error: (err as Error).message });
        }
        return null;
      }
    }
    return s.passwordPlain;
  };

  // Rows are written out field by field (no object spread: in V8 a spread of a fresh
  // literal gives each result its own hidden class, garbage on every request).
  function record(base: Base, result: AuthLogRow["result"], reason: string, reply: string | null): void {
    deps.authLog.push({
      time: now(),
      routerId: base.routerId,
      nasIp: base.nasIp,
      username: base.username,
      subscriberId: base.subscriberId,
      callingStationId: base.callingStationId,
      method: base.method,
      result,
      reason,
      reply,
    });
  }

  function reject(reason: RejectReason, base: Base): AuthReply {
    counters.authRejects++;
    counters.rejectsByReason[reason] = (counters.rejectsByReason[reason] ?? 0) + 1;
    record(base, "reject", reason, null);
    log.debug(`reject ${base.username}: ${reason}`, { nas: base.nasIp });
    return { code: "reject", attributes: [{ name: "Reply-Message", value: rejectMessages[reason] }], accountDisabled: disabledReasons.has(reason) };
  }

  type Accepted = Extract<ReturnType<typeof decideAuth>, { accept: true }>;

  /** Everything after the subscriber lookup; synchronous unless the database must be asked. */
  function decide(req: AuthRequestView, router: RouterInfo | undefined, subscriber: SubscriberInfo | null): AuthReply | Promise<AuthReply> {
    const base: Base = {
      routerId: router?.id ?? null,
      nasIp: router?.ip ?? req.sourceIp,
      // The cached username (same text) instead of the packet's copy: nothing per request is kept for the auth log.
      username: subscriber?.username ?? req.userName ?? "",
      subscriberId: subscriber?.id ?? null,
      callingStationId: req.callingStationId,
      method: req.method,
    };
    let credential: CredentialResult = "none";
    if (subscriber && req.credentialMatches) {
      const clear = passwordOf(subscriber);
      credential = clear === null ? "unavailable" : req.credentialMatches(clear) ? "ok" : "wrong";
    }
    const macKey = macNumber(req.callingStationId);
    // The policy reads the normalised MAC only for a bound or learning subscriber; for the
    // rest (most) no string is built. A bound MAC (already canonical) that is the one sent is
    // reused as is: the common re-login allocates nothing here either.
    const mac =
      macKey < 0 || !(subscriber?.boundMac || subscriber?.macLearn)
        ? null
        : subscriber.boundMac && isCanonicalMac(subscriber.boundMac) && macNumber(subscriber.boundMac) === macKey
          ? subscriber.boundMac
          : normaliseMac(req.callingStationId);
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
    const routerId = router?.id ?? null;

    // Sessions still open elsewhere. A re-dial from the same device on the same NAS
    // replaces its old session (whose Stop may be lost), so it does not count.
    const indexed = deps.openSessions?.of(sub.id) ?? null;
    let open: OpenRow[] | null = null;
    if (indexed) {
      open = [];
      for (const s of indexed) {
        if (!(s.routerId === routerId && req.callingStationId !== null && s.callingStationId === req.callingStationId)) {
          open.push({ router_id: s.routerId, calling_station_id: s.callingStationId });
        }
      }
    }
    // The index may count a session closed outside the collector (or a Stop racing
    // this request): a refusal is only ever decided on the database's answer.
    if (!open || open.length + recentAccepts.others(sub.id, routerId, macKey, open) >= sub.simultaneousUse) {
      return (async () => {
        let rows: OpenRow[];
        try {
          const r = await pool.query<OpenRow>(
            `SELECT router_id, calling_station_id FROM radius_sessions
              WHERE subscriber_id = $1 AND status = 'active'
                AND NOT (router_id IS NOT DISTINCT FROM $2 AND calling_station_id IS NOT DISTINCT FROM $3 AND $3 IS NOT NULL)`,
            [sub.id, routerId, req.callingStationId],
          );
          rows = r.rows;
        } catch (err) {
          return internalError(err, base);
        }
        if (deps.simultaneousUseCounters) deps.simultaneousUseCounters.fromDatabase++;
        return reserveAndAccept(d, router, base, rows, macKey);
      })();
    }
    if (deps.simultaneousUseCounters) deps.simultaneousUseCounters.fromIndex++;
    return reserveAndAccept(d, router, base, open, macKey);
  }

  function internalError(err: unknown, base: Base): AuthReply {
    log.warn("auth: database check failed; rejecting", { user: base.username, error: (err as Error).message });
    return reject("internal_error", base);
  }

  /**
   * Checked and reserved in one synchronous step (after the query, when there is one), so
   * two devices dialling at the same moment cannot both pass. Then the lease, if the NAS
   * has database pools (asynchronous), and the Accept.
   */
  function reserveAndAccept(d: Accepted, router: RouterInfo | undefined, base: Base, open: OpenRow[], macKey: number): AuthReply | Promise<AuthReply> {
    const sub = d.subscriber;
    const routerId = router?.id ?? null;
    if (open.length + recentAccepts.others(sub.id, routerId, macKey, open) >= sub.simultaneousUse) {
      return reject("simultaneous_use", base);
    }
    const reservation = recentAccepts.add(sub.id, routerId, macKey);
    const routerPools = router ? poolsByRouter.get(router.id) : undefined;
    const sharedPools = poolsByRouter.get(null);
    const hasDatabasePools = (routerPools?.length ?? 0) + (sharedPools?.length ?? 0) > 0;
    // Dual stack: the subscriber's static prefix, else a lease when the NAS has IPv6 pools.
    // Not for the walled garden (the garden is an IPv4 address list/filter; IPv6 would go around it).
    const garden = d.grant.kind === "walled_garden";
    const v6Static: V6Grant | undefined = !garden && sub.staticIpv6Prefix ? { prefix: sub.staticIpv6Prefix, kind: "delegated" } : undefined;
    const v6Pools = garden || v6Static ? null : ipv6CandidatePools(routerId);
    if ((d.grant.staticIp || !hasDatabasePools) && !v6Pools) return accept(d, router, base, null, false, v6Static);
    const needV4 = !d.grant.staticIp && hasDatabasePools;
    const candidatePools = needV4 ? [...(routerPools ?? []), ...(sharedPools ?? [])] : [];
    return (async () => {
      try {
        // Both leases at once (one round trip of latency); the IPv6 one never fails the Accept.
        const [lease, v6] = await Promise.all([
          needV4 ? allocateAddress(pool, { poolIds: candidatePools, subscriberId: sub.id, routerId }) : null,
          v6Pools ? allocateV6(v6Pools, sub.id, routerId, sub.simultaneousUse === 1, base) : v6Static,
        ]);
        if (needV4 && !lease) {
          recentAccepts.remove(sub.id, reservation);
          // A prefix leased alongside is ended by the stale-lease sweep (or reused on the re-dial).
          return reject("pool_exhausted", base);
        }
        return accept(d, router, base, lease?.ip ?? null, needV4, v6);
      } catch (err) {
        recentAccepts.remove(sub.id, reservation);
        return internalError(err, base);
      }
    })();
  }

  function ipv6CandidatePools(routerId: number | null): number[] | null {
    if (poolsV6ByRouter.size === 0) return null;
    const own = routerId !== null ? poolsV6ByRouter.get(routerId) : undefined;
    const shared = poolsV6ByRouter.get(null);
    if (own && shared) return [...own, ...shared];
    return own ?? shared ?? null;
  }

  /** A prefix, or null (pools full, database error): the customer still gets IPv4, the reason is logged. */
  async function allocateV6(poolIds: number[], subscriberId: number, routerId: number | null, replacesOwnSession: boolean, base: Base): Promise<Ipv6Lease | null> {
    let reason: string;
    try {
      const lease = await allocatePrefix(pool, { poolIds, subscriberId, routerId, replacesOwnSession });
      if (lease) return lease;
      reason = "IPv6 pools exhausted";
    } catch (err) {
      reason = `IPv6 allocation failed: ${(err as Error).message}`;
    }
    const t = Date.now();
    if (t - lastV6WarnMs > 10_000) {
      lastV6WarnMs = t;
      log.warn(`auth: accepting ${base.username} without IPv6 (${reason})`, { nas: base.nasIp, pools: poolIds });
    }
    return null;
  }

  /** v6: the IPv6 lease or static prefix (null: the NAS has IPv6 pools but none was granted; undefined: no IPv6). */
  function accept(d: Accepted, router: RouterInfo | undefined, base: Base, pooledIp: string | null, hasDatabasePools: boolean, v6?: V6Grant | null): AuthReply {
    const sub = d.subscriber;
    const grant = d.grant;
    if (d.learnMac) {
      // First login binds the device; the row change reloads the cache through NOTIFY.
      pool
        .query("UPDATE subscribers SET bound_mac = $2, updated_at = now() WHERE id = $1 AND bound_mac IS NULL", [sub.id, d.learnMac])
        .catch((err: Error) => log.warn("auth: MAC learning failed", { user: base.username, error: err.message }));
    }
    counters.authAccepts++;
    const vendor = asVendor(router?.vendor);
    const attributes = acceptAttributes(vendor, grant, { pooledIp, hasDatabasePools, ipv6: v6 });
    const ip = grant.staticIp ?? pooledIp;
    const summary = replySummary(grant, ip);
    record(base, "accept", grant.kind === "service" ? "ok" : grant.kind, v6 === undefined ? summary : `${summary} ${v6 ? `${v6.kind === "framed" ? "v6" : "pd"}=${v6.prefix}` : "pd=none"}`);
    log.debug(`accept ${sub.username}`, { nas: router?.name ?? base.nasIp, grant: grant.kind });
    const out: AuthReply["attributes"] = [];
    for (const [name, value] of attributes) out.push({ name, value });
    return { code: "accept", attributes: out };
  }

  return {
    async reloadPools() {
      const r = await pool.query<{ id: number; router_id: number | null }>("SELECT id, router_id FROM ip_pools WHERE active ORDER BY id");
      const m = new Map<number | null, number[]>();
      for (const row of r.rows) m.set(row.router_id, [...(m.get(row.router_id) ?? []), row.id]);
      poolsByRouter = m;
      poolsV6ByRouter = await ipv6PoolsForRouters(pool);
    },

    logDrop(reason, info) {
      const router = deps.routers.byIp(info.nasIp);
      counters.rejectsByReason[reason] = (counters.rejectsByReason[reason] ?? 0) + 1;
      record(
        { routerId: router?.id ?? null, nasIp: router?.ip ?? info.nasIp, username: info.userName ?? "", subscriberId: null, callingStationId: info.callingStationId ?? null, method: info.method },
        "drop",
        reason,
        null,
      );
    },

    handle(req) {
      const router = deps.routers.byIp(req.sourceIp);
      if (router) deps.markSeen(router.id);
      if (!req.userName) return decide(req, router, null);
      // A cache hit answers without a promise; a miss asks the database once.
      const cached = deps.subscribers.cachedByUsername(req.userName);
      if (cached) return decide(req, router, cached);
      return deps.subscribers.byUsername(req.userName).then((s) => decide(req, router, s));
    },
  };
}

type OpenRow = { router_id: number; calling_station_id: string | null };
type V6Grant = Pick<Ipv6Lease, "prefix" | "kind">;
type Base = Omit<AuthLogRow, "time" | "result" | "reason" | "reply">;

/** Reservations tracked at most (one per accepted device); beyond it the oldest is forgotten (the database check still holds). */
export const recentAcceptsSubscribersMax = 100_000;

/**
 * Calling-Station-Id as a number (the 48-bit MAC), -1 when absent or not a MAC: exactly the
 * strings normaliseMac accepts, without building one. The reservations below keep numbers,
 * so nothing of a request stays on the heap for the 15 s window.
 */
export function macNumber(text: string | null | undefined): number {
  if (!text) return -1;
  let n = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let v: number;
    if (c >= 48 && c <= 57) v = c - 48;
    else if (c >= 97 && c <= 102) v = c - 87;
    else if (c >= 65 && c <= 70) v = c - 55;
    else if (c === 58 || c === 46 || c === 45 || isRegExpSpace(c)) continue;
    else return -1;
    if (++digits > 12) return -1;
    n = n * 16 + v;
  }
  return digits === 12 ? n : -1;
}

/** "aa:bb:cc:dd:ee:ff" exactly (lower-case hex, colons): what normaliseMac returns. */
function isCanonicalMac(s: string): boolean {
  if (s.length !== 17) return false;
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== 58) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The characters `\s` matches in a JavaScript regular expression. */
function isRegExpSpace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    c === 32 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Accepts not yet visible as sessions: between Access-Accept and Accounting-Start a second
 * device would otherwise pass the database check. Entries expire after windowMs; one that
 * already shows up as an active session (same NAS and device) is not counted twice.
 *
 * Stored in a ring of typed arrays (subscriber, router, MAC as a number, time), newest
 * first per subscriber through `next` links and one Map from subscriber id to its newest
 * slot: an accept allocates nothing that lives, the oldest slot is reused when the ring is full.
 */
export function createRecentAccepts(windowMs: number, nowMs: () => number, capacity = recentAcceptsSubscribersMax) {
  const newest = new Map<number, number>();
  const subOf = new Float64Array(capacity).fill(-1);
  const routerOf = new Float64Array(capacity);
  const macOf = new Float64Array(capacity);
  const atOf = new Float64Array(capacity);
  const next = new Int32Array(capacity).fill(-1);
  const genOf = new Uint32Array(capacity);
  let pos = 0;

  /** keepKey: the caller sets the subscriber's head right after (an update in place, no Map churn). */
  const unlink = (slot: number, keepKey = false): void => {
    const id = subOf[slot]!;
    if (id < 0) return;
    const head = newest.get(id);
    if (head === slot) {
      const n = next[slot]!;
      if (n >= 0 || keepKey) newest.set(id, n);
      else newest.delete(id);
    } else {
      for (let p = head ?? -1; p >= 0; p = next[p]!) {
        if (next[p] === slot) {
          next[p] = next[slot]!;
          break;
        }
      }
    }
    subOf[slot] = -1;
    next[slot] = -1;
    genOf[slot] = (genOf[slot]! + 1) >>> 0;
  };

  /** Drops the subscriber's expired entries (and, with a device given, that device's entry). */
  const prune = (id: number, t: number, routerKey?: number, mac?: number): void => {
    let slot = newest.get(id) ?? -1;
    if (slot < 0 && routerKey === undefined && newest.has(id)) newest.delete(id);
    while (slot >= 0) {
      const after = next[slot]!;
      if (t - atOf[slot]! >= windowMs || (routerKey !== undefined && macOf[slot] === mac && routerOf[slot] === routerKey)) unlink(slot, routerKey !== undefined);
      slot = after;
    }
  };

  return {
    others(id: number, routerId: number | null, mac: number, sessions: ReadonlyArray<{ router_id: number; calling_station_id: string | null }>): number {
      const t = nowMs();
      prune(id, t);
      const r = routerId ?? -1;
      let count = 0;
      for (let slot = newest.get(id) ?? -1; slot >= 0; slot = next[slot]!) {
        if (macOf[slot] === mac && routerOf[slot] === r) continue;
        const eRouter = routerOf[slot]!;
        const eMac = macOf[slot]!;
        let seen = false;
        for (const s of sessions) {
          if (s.router_id === eRouter && (eMac === -1 || macNumber(s.calling_station_id) === eMac)) {
            seen = true;
            break;
          }
        }
        if (!seen) count++;
      }
      return count;
    },
    /** Reserves; returns a handle for remove(). */
    add(id: number, routerId: number | null, mac: number): number {
      const t = nowMs();
      const r = routerId ?? -1;
      // The same device (or, without Calling-Station-Id, the same NAS) replaces its entry.
      prune(id, t, r, mac);
      const slot = pos;
      pos = pos + 1 === capacity ? 0 : pos + 1;
      unlink(slot);
      subOf[slot] = id;
      routerOf[slot] = r;
      macOf[slot] = mac;
      atOf[slot] = t;
      next[slot] = newest.get(id) ?? -1;
      // Re-inserted so that Map iteration order stays oldest-first (not relied on).
      newest.set(id, slot);
      return genOf[slot]! * capacity + slot;
    },
    remove(id: number, handle: number): void {
      const slot = handle % capacity;
      if (subOf[slot] === id && genOf[slot]! * capacity + slot === handle) unlink(slot);
    },
    /** Subscribers with at least one entry (tests). */
    get size(): number {
      let n = 0;
      for (const head of newest.values()) if (head >= 0) n++;
      return n;
    },
  };
}
