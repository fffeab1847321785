// Accounting-Request handler. "ack" is returned only after the session upsert and the
// time-series batch holding this record have committed: an Accounting-Response means
// the record is durable. Any failure (queue full, database down) means "no-ack", and the
// NAS retransmits.
import type { Logger } from "../log";
import type { RouterCache, SubscriberCache } from "./caches";
import type { SessionStore } from "./session-store";
import { QueueFullError } from "./ts-writer";
import type { AcctHandler } from "./radius-types";

export interface AccountingService {
  handle: AcctHandler;
}

export function createAccountingService(deps: {
  routers: RouterCache;
  subscribers: SubscriberCache;
  sessions: SessionStore;
  counters: { acctResponses: number; acctNotAcked: number };
  markSeen: (routerId: number) => void;
  log: Logger;
}): AccountingService {
  const { counters, log } = deps;
  let lastBackpressureLogMs = 0;
  return {
    async handle(req) {
      const router = deps.routers.byIp(req.sourceIp);
      if (!router) {
        // The server only calls us for known NAS; a router removed since is just dropped.
        counters.acctNotAcked++;
        return "no-ack";
      }
      deps.markSeen(router.id);
      const rec = req.record;
      try {
        if (rec.status === "on" || rec.status === "off") {
          const closed = await deps.sessions.closeAllForRouter(router.id, rec.status === "on" ? "NAS-Reboot" : "NAS-Request");
          log.info(`${router.name} Accounting-${rec.status === "on" ? "On" : "Off"}: closed ${closed} sessions`);
        } else {
          const subscriberId = deps.subscribers.cachedByUsername(rec.username)?.id ?? (await deps.subscribers.byUsername(rec.username))?.id ?? null;
          await deps.sessions.apply(router.id, subscriberId, rec);
        }
        counters.acctResponses++;
        return "ack";
      } catch (err) {
        counters.acctNotAcked++;
        if (err instanceof QueueFullError) {
          const now = Date.now();
          if (now - lastBackpressureLogMs > 5000) {
            lastBackpressureLogMs = now;
            log.warn("writer queue full: not acknowledging accounting (NAS will retransmit)", { queuedRows: err.queuedRows });
          }
        } else {
          log.warn("accounting record not stored; not acknowledging", { nas: router.name, error: (err as Error).message });
        }
        return "no-ack";
      }
    },
  };
}
