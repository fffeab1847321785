// The auth policy, pure: given what the cache knows about a username and a way to check
// the offered credential, decide Accept (with reply attributes) or Reject (with reason).
import type { SubscriberInfo } from "./caches";

export type RejectReason = "unknown_user" | "bad_password" | "suspended" | "terminated" | "pending" | "no_credentials";

export const rejectMessages: Record<RejectReason, string> = {
  unknown_user: "Unknown user",
  bad_password: "Wrong password",
  suspended: "Account suspended",
  terminated: "Account terminated",
  pending: "Account not yet activated",
  no_credentials: "No password or CHAP response",
};

export type AuthDecision =
  | {
      accept: true;
      subscriber: SubscriberInfo;
      rateLimit: string;
      framedIp: string | null;
      acctInterimIntervalS: number;
      sessionTimeoutS: number | null;
    }
  | { accept: false; reason: RejectReason; message: string; subscriber: SubscriberInfo | null };

export function decideAuth(
  subscriber: SubscriberInfo | null,
  credentialMatches: ((clearPassword: string) => boolean) | null,
  opts: { acctInterimIntervalS: number; sessionTimeoutS?: number | null; rateLimit: (plan: SubscriberInfo["plan"]) => string },
): AuthDecision {
  const reject = (reason: RejectReason): AuthDecision => ({ accept: false, reason, message: rejectMessages[reason], subscriber });
  if (!subscriber) return reject("unknown_user");
  if (!credentialMatches) return reject("no_credentials");
  // The password is checked before the status so that a stranger guessing usernames
  // learns nothing about account states.
  if (!credentialMatches(subscriber.password)) return reject("bad_password");
  if (subscriber.status !== "active") return reject(subscriber.status);
  return {
    accept: true,
    subscriber,
    rateLimit: opts.rateLimit(subscriber.plan),
    framedIp: subscriber.staticIp,
    acctInterimIntervalS: opts.acctInterimIntervalS,
    sessionTimeoutS: opts.sessionTimeoutS ?? null,
  };
}
