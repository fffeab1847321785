// What an auth-log row means, in words a support agent can read to the customer, and what
// to do next where that is obvious. Pure, shared by the subscriber page and the NOC page.
// The reasons are the collector's (apps/collector/src/services/auth-decision.ts RejectReason,
// DropReason and the accept grants; docs/radius-auth.md "Policy"); the web app may not
// import the collector, so the list is repeated here and auth-reasons.test.ts checks it
// against the collector's source.

export type AuthResultKind = "accept" | "reject" | "drop";

export interface AuthReasonInfo {
  /** Plain words, e.g. "Wrong password". */
  text: string;
  /** One line of what to do, or null where nothing obvious applies. */
  hint: string | null;
}

export const acceptReasons = ["ok", "fup", "walled_garden"] as const;

export const rejectReasons = [
  "wrong_password",
  "unknown_user",
  "suspended",
  "expired",
  "mac_mismatch",
  "simultaneous_use",
  "pending",
  "terminated",
  "no_credentials",
  "password_unavailable",
  "pool_exhausted",
  "internal_error",
] as const;

export const dropReasons = [
  "bad_message_authenticator",
  "bad_authenticator",
  "missing_message_authenticator",
  "proxy_state_without_message_authenticator",
] as const;

const reasonInfo: Record<string, AuthReasonInfo> = {
  ok: { text: "Connected", hint: null },
  fup: { text: "Connected at the fair-usage rate (monthly quota used up)", hint: "Full speed returns next month or with a plan upgrade." },
  walled_garden: {
    text: "Let in to the payment page only (suspended or expired account)",
    hint: "Take the payment; the next login gets the plan's speed.",
  },
  wrong_password: {
    text: "Wrong password",
    hint: "Re-enter the PPPoE password on the customer's router (it is case-sensitive).",
  },
  unknown_user: { text: "User name not found", hint: "Check the PPPoE user name typed on the customer's router." },
  suspended: {
    text: "Account suspended (unpaid dues or suspended by staff)",
    hint: "Check the dues below; once paid, use Restore.",
  },
  expired: { text: "Prepaid period expired", hint: "Renew with a payment, then the customer reconnects." },
  mac_mismatch: {
    text: "Logged in from a different device",
    hint: "The account is bound to one device's MAC: the customer must connect from that router (the binding is not changed from this page).",
  },
  simultaneous_use: {
    text: "Already connected elsewhere (simultaneous use)",
    hint: "If the old session is stale, use Kick session, then ask the customer to reconnect.",
  },
  pending: { text: "Account not activated yet", hint: "The account must be activated before it can connect." },
  terminated: { text: "Account terminated", hint: null },
  no_credentials: { text: "The router sent no password", hint: "Check the PPPoE authentication settings on the customer's router." },
  password_unavailable: { text: "The stored password cannot be checked (server key problem)", hint: "Not the customer's fault: escalate to the NOC." },
  pool_exhausted: { text: "No IP address free on the router's pool", hint: "Not the customer's fault: escalate to the NOC." },
  internal_error: { text: "Temporary server failure", hint: "Ask the customer to retry in a minute; escalate to the NOC if it repeats." },
  bad_message_authenticator: {
    text: "Router's request failed the signature check (RADIUS shared secret mismatch?)",
    hint: "NOC: check the RADIUS secret on this router.",
  },
  bad_authenticator: { text: "Router's request failed the signature check (RADIUS shared secret mismatch?)", hint: "NOC: check the RADIUS secret on this router." },
  missing_message_authenticator: {
    text: "Router did not sign the request (no Message-Authenticator)",
    hint: "NOC: enable Message-Authenticator on this router, or turn off the requirement for it.",
  },
  proxy_state_without_message_authenticator: { text: "Proxied request without a signature", hint: "NOC: check the RADIUS proxy in front of this router." },
};

/** Words for a reason; an unknown reason is shown as it is. */
export function describeAuthReason(reason: string): AuthReasonInfo {
  return reasonInfo[reason] ?? { text: reason.replace(/_/g, " "), hint: null };
}

/**
 * One attempt for the subscriber page. A MAC mismatch names both MACs when known: the one
 * the attempt came from and the one the account is bound to.
 */
export function describeAuthAttempt(a: { reason: string; callingStationId: string | null }, boundMac: string | null = null): AuthReasonInfo {
  const info = describeAuthReason(a.reason);
  if (a.reason === "mac_mismatch") {
    const from = a.callingStationId ? `MAC ${a.callingStationId}` : "no MAC sent";
    const expected = boundMac ? `, expected ${boundMac}` : "";
    return { ...info, text: `${info.text} (${from}${expected})` };
  }
  return info;
}

/** Options for the NOC page's reason filter, grouped by result. */
export function reasonOptions(): { result: AuthResultKind; reason: string; text: string }[] {
  return [
    ...acceptReasons.map((reason) => ({ result: "accept" as const, reason, text: describeAuthReason(reason).text })),
    ...rejectReasons.map((reason) => ({ result: "reject" as const, reason, text: describeAuthReason(reason).text })),
    ...dropReasons.map((reason) => ({ result: "drop" as const, reason, text: describeAuthReason(reason).text })),
  ];
}
