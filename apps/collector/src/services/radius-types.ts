// The collector's view of a RADIUS exchange. radius-glue.ts adapts @isp/network's server
// to it, so the auth and accounting services hold policy only and never touch bytes.
import type { AcctInput } from "./session-store";

/** A reply attribute by dictionary name (radius-glue encodes it). */
export interface ReplyAttribute {
  name: string;
  value: string | number | Buffer;
}

export type AuthMethod = "pap" | "chap" | "mschapv2" | "mschapv1" | "eap" | "none";

export interface AuthRequestView {
  /** Source address of the datagram (identifies the NAS). */
  sourceIp: string;
  userName: string | null;
  method: AuthMethod;
  /** Checks the offered PAP/CHAP/MS-CHAPv2 credential against a clear password; null when there is none to check. */
  credentialMatches: ((clearPassword: string) => boolean) | null;
  /** Calling-Station-Id as sent (the subscriber's MAC on PPPoE). */
  callingStationId: string | null;
}

export interface AuthReply {
  code: "accept" | "reject";
  attributes: ReplyAttribute[];
  /** For MS-CHAP-Error: the account cannot log in at all (E=647) rather than bad credentials (E=691). */
  accountDisabled?: boolean;
}

export interface AcctRequestView {
  sourceIp: string;
  record: AcctInput;
}

/** The handler's answer: send a reply, or stay silent (the NAS retransmits). A value when it
 * needs no I/O (the common Accept from caches), so the RADIUS server answers without a promise. */
export type AuthHandler = (req: AuthRequestView) => AuthReply | Promise<AuthReply>;
export type AcctHandler = (req: AcctRequestView) => Promise<"ack" | "no-ack">;
