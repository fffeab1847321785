// The collector's view of a RADIUS exchange. radius-glue.ts adapts @isp/network's server
// to it, so the auth and accounting services hold policy only and never touch bytes.
import type { AcctInput } from "./session-store";

export type ReplyAttribute =
  | { name: "Reply-Message"; value: string }
  | { name: "Framed-IP-Address"; value: string }
  | { name: "Acct-Interim-Interval"; value: number }
  | { name: "Session-Timeout"; value: number }
  | { name: "Mikrotik-Rate-Limit"; value: string };

export interface AuthRequestView {
  /** Source address of the datagram (identifies the NAS). */
  sourceIp: string;
  userName: string | null;
  /** PAP or CHAP check against a clear password; null when the request carries neither. */
  credentialMatches: ((clearPassword: string) => boolean) | null;
}

export interface AuthReply {
  code: "accept" | "reject";
  attributes: ReplyAttribute[];
}

export interface AcctRequestView {
  sourceIp: string;
  record: AcctInput;
}

/** The handler's answer: send a reply, or stay silent (the NAS retransmits). */
export type AuthHandler = (req: AuthRequestView) => Promise<AuthReply>;
export type AcctHandler = (req: AcctRequestView) => Promise<"ack" | "no-ack">;
