// Access-Request handler: the NAS is already authenticated by the server (secretFor);
// here the subscriber is looked up by PPPoE username and the policy in auth-decision.ts
// decides. Every answer is counted by outcome and reason.
import type { Logger } from "../log";
import { decideAuth } from "./auth-decision";
import type { RouterCache, SubscriberCache } from "./caches";
import { planRateLimit } from "./radius-glue";
import type { AuthHandler, ReplyAttribute } from "./radius-types";

export interface AuthService {
  handle: AuthHandler;
}

export function createAuthService(deps: {
  routers: RouterCache;
  subscribers: SubscriberCache;
  counters: { authAccepts: number; authRejects: number; rejectsByReason: Record<string, number> };
  markSeen: (routerId: number) => void;
  acctInterimIntervalS: number;
  sessionTimeoutS: number | null;
  log: Logger;
}): AuthService {
  const { counters, log } = deps;
  return {
    async handle(req) {
      const router = deps.routers.byIp(req.sourceIp);
      if (router) deps.markSeen(router.id);
      const subscriber = req.userName ? await deps.subscribers.byUsername(req.userName) : null;
      const d = decideAuth(subscriber, req.credentialMatches, {
        acctInterimIntervalS: deps.acctInterimIntervalS,
        sessionTimeoutS: deps.sessionTimeoutS,
        rateLimit: planRateLimit,
      });
      if (!d.accept) {
        counters.authRejects++;
        counters.rejectsByReason[d.reason] = (counters.rejectsByReason[d.reason] ?? 0) + 1;
        log.info(`reject ${req.userName ?? "(no User-Name)"}: ${d.reason}`, { nas: router?.name ?? req.sourceIp });
        return { code: "reject", attributes: [{ name: "Reply-Message", value: d.message }] };
      }
      counters.authAccepts++;
      const attributes: ReplyAttribute[] = [
        { name: "Mikrotik-Rate-Limit", value: d.rateLimit },
        { name: "Acct-Interim-Interval", value: d.acctInterimIntervalS },
      ];
      if (d.framedIp) attributes.push({ name: "Framed-IP-Address", value: d.framedIp });
      if (d.sessionTimeoutS) attributes.push({ name: "Session-Timeout", value: d.sessionTimeoutS });
      log.debug(`accept ${d.subscriber.username}`, { nas: router?.name ?? req.sourceIp, rateLimit: d.rateLimit });
      return { code: "accept", attributes };
    },
  };
}
