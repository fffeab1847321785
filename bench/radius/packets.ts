// Pre-encoded RADIUS requests for the load generator. Identifiers are baked into the
// bytes (Message-Authenticator and the accounting Request Authenticator cover them), so
// packet i of a worker's pool always goes out on socket i % sockets with identifier
// floor(i / sockets) % 256; sending in pool order then reuses an identifier only after
// 256 newer requests on that socket.
import { randomBytes } from "node:crypto";
import { encodeRequest } from "@isp/network/radius/auth";
import { PacketCode, type AttributeList } from "@isp/network/radius/codec";

export interface Credential {
  username: string;
  password: string;
}

export function slotOf(index: number, sockets: number): { socket: number; identifier: number } {
  return { socket: index % sockets, identifier: Math.floor(index / sockets) % 256 };
}

/** Access-Request, PAP, Message-Authenticator first (as a BlastRADIUS-hardened NAS sends it). */
export function encodeAccessRequest(cred: Credential, identifier: number, secret: string, nasIp: string, nasPort: number): Buffer {
  return encodeRequest({
    code: PacketCode.AccessRequest,
    identifier,
    secret,
    authenticator: randomBytes(16),
    attributes: [
      ["User-Name", cred.username],
      ["User-Password", cred.password],
      ["NAS-IP-Address", nasIp],
      ["NAS-Port", nasPort],
      ["NAS-Port-Type", "Ethernet"],
      ["Service-Type", "Framed-User"],
      ["Framed-Protocol", "PPP"],
      ["Calling-Station-Id", macOf(cred.username)],
    ],
  }).raw;
}

/** One accounting session: Start, `interims` x Interim-Update, Stop. */
export interface AcctSession {
  sessionId: string;
  username: string;
  /** Index used for a distinct Framed-IP-Address and NAS-Port. */
  ordinal: number;
}

export const ACCT_STATUS = { start: 1, stop: 2, interim: 3 } as const;
export const ACCT_INTERVAL_S = 300;
/** Sessions interleaved together: Start for the whole block, then each interim round, then Stop. */
export const ACCT_BLOCK_SESSIONS = 1024;

export interface AcctStep {
  session: number;
  step: number;
}

/**
 * The order in which a worker sends its sessions' records: blocks of sessions, all Starts
 * of the block, then the interim rounds, then the Stops, so the stream is always mixed and
 * a session's previous record went out ACCT_BLOCK_SESSIONS packets earlier.
 */
export function acctOrder(sessions: number, interims: number): AcctStep[] {
  const steps = interims + 2;
  const out: AcctStep[] = [];
  for (let b = 0; b < sessions; b += ACCT_BLOCK_SESSIONS) {
    const end = Math.min(sessions, b + ACCT_BLOCK_SESSIONS);
    for (let step = 0; step < steps; step++) for (let s = b; s < end; s++) out.push({ session: s, step });
  }
  return out;
}

export function acctStatusOf(step: number, interims: number): number {
  return step === 0 ? ACCT_STATUS.start : step === interims + 1 ? ACCT_STATUS.stop : ACCT_STATUS.interim;
}

/** Session time and octet counters at a step; counters grow every interval and cross 2^32 for some sessions (gigawords). */
export function acctCounters(ordinal: number, step: number): { sessionTimeS: number; input: bigint; output: bigint } {
  const sessionTimeS = step * ACCT_INTERVAL_S;
  const perStep = BigInt(1_000_000 + (ordinal % 1000) * 7919);
  const heavy = ordinal % 50 === 0 ? 3n * 2n ** 31n : 0n;
  const input = BigInt(step) * (perStep + heavy);
  return { sessionTimeS, input, output: input * 4n };
}

/** Key of one stored record in the collector's accounting_records, to match rows against acks. */
export function acctRecordKey(sessionId: string, status: number, sessionTimeS: number): string {
  return `${sessionId}|${status}|${sessionTimeS}`;
}

export function encodeAccountingRequest(
  session: AcctSession,
  step: number,
  interims: number,
  identifier: number,
  secret: string,
  nasIp: string,
  eventTime: Date,
): Buffer {
  const status = acctStatusOf(step, interims);
  const { sessionTimeS, input, output } = acctCounters(session.ordinal, step);
  const attributes: Array<readonly [string, string | number | bigint | Date]> = [
    ["Acct-Status-Type", status],
    ["Acct-Session-Id", session.sessionId],
    ["User-Name", session.username],
    ["NAS-IP-Address", nasIp],
    ["NAS-Port", session.ordinal],
    ["NAS-Port-Type", "Ethernet"],
    ["Service-Type", "Framed-User"],
    ["Framed-Protocol", "PPP"],
    ["Framed-IP-Address", ipFor(session.ordinal)],
    ["Calling-Station-Id", macOf(session.username)],
    ["Acct-Authentic", "RADIUS"],
    ["Acct-Delay-Time", 0],
    ["Event-Timestamp", eventTime],
  ];
  if (status !== ACCT_STATUS.start) {
    attributes.push(
      ["Acct-Session-Time", sessionTimeS],
      ["Acct-Input-Octets", Number(input & 0xffffffffn)],
      ["Acct-Output-Octets", Number(output & 0xffffffffn)],
      ["Acct-Input-Gigawords", Number(input >> 32n)],
      ["Acct-Output-Gigawords", Number(output >> 32n)],
    );
  }
  if (status === ACCT_STATUS.stop) attributes.push(["Acct-Terminate-Cause", "User-Request"]);
  // MikroTik and most BNGs send no Message-Authenticator on accounting.
  return encodeRequest({ code: PacketCode.AccountingRequest, identifier, secret, attributes: attributes as AttributeList, messageAuthenticator: false }).raw;
}

/** 10.64.0.0/10: a distinct address per session ordinal. */
export function ipFor(ordinal: number): string {
  const n = (10 << 24) + (64 << 16) + (ordinal % (1 << 22));
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** A subscriber's CPE MAC: fixed per username (FNV-1a), as a real device's would be. */
export function macOf(username: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < username.length; i++) h = Math.imul(h ^ username.charCodeAt(i), 0x01000193);
  const hex = (h >>> 0).toString(16).padStart(8, "0");
  return `02:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`.toUpperCase();
}
