// Typed view of an Accounting-Request (RFC 2866, RFC 2869 gigawords).
import { getBuffer, getDate, getInt, getIp, getIpv6Prefix, getString, type RadiusPacket } from "./codec";
import { enumName } from "./dictionary";

export type AcctStatus = "Start" | "Stop" | "Interim-Update" | "Accounting-On" | "Accounting-Off" | "Failed" | "Unknown";

export interface AccountingRecord {
  statusType: AcctStatus;
  statusTypeCode: number | undefined;
  acctSessionId: string | undefined;
  userName: string | undefined;
  nasIp: string | undefined;
  nasIdentifier: string | undefined;
  nasPortId: string | undefined;
  framedIp: string | undefined;
  /** Delegated-IPv6-Prefix (RFC 4818) the NAS reports, "2400:abcd:12:3400::/56". */
  delegatedIpv6Prefix: string | undefined;
  callingStationId: string | undefined;
  /** Seconds. */
  sessionTime: number | undefined;
  /** From the subscriber (upload), full 64-bit count. */
  inputOctets: bigint;
  /** To the subscriber (download), full 64-bit count. */
  outputOctets: bigint;
  inputPackets: number | undefined;
  outputPackets: number | undefined;
  /** Seconds the NAS has been trying to send this record. */
  delayTime: number;
  terminateCause: string | undefined;
  terminateCauseCode: number | undefined;
  eventTimestamp: Date | undefined;
  /** Class attribute echoed from the Access-Accept, if any. */
  class: Buffer | undefined;
}

const TWO_32 = 1n << 32n;

/** gigawords * 2^32 + octets (RFC 2869 5.1/5.2). */
export function combineOctets(octets: number | undefined, gigawords: number | undefined): bigint {
  return BigInt(gigawords ?? 0) * TWO_32 + BigInt(octets ?? 0);
}

/** The inverse: a 64-bit counter split into [octets, gigawords]. */
export function splitOctets(total: bigint): [octets: number, gigawords: number] {
  return [Number(total & 0xffffffffn), Number(total >> 32n)];
}

export function parseAccountingRequest(packet: RadiusPacket): AccountingRecord {
  const statusTypeCode = getInt(packet, "Acct-Status-Type");
  const statusName = statusTypeCode === undefined ? undefined : enumName("Acct-Status-Type", statusTypeCode);
  const terminateCauseCode = getInt(packet, "Acct-Terminate-Cause");
  return {
    statusType: (statusName as AcctStatus | undefined) ?? "Unknown",
    statusTypeCode,
    acctSessionId: getString(packet, "Acct-Session-Id"),
    userName: getString(packet, "User-Name"),
    nasIp: getIp(packet, "NAS-IP-Address"),
    nasIdentifier: getString(packet, "NAS-Identifier"),
    nasPortId: getString(packet, "NAS-Port-Id"),
    framedIp: getIp(packet, "Framed-IP-Address"),
    delegatedIpv6Prefix: getIpv6Prefix(packet, "Delegated-IPv6-Prefix"),
    callingStationId: getString(packet, "Calling-Station-Id"),
    sessionTime: getInt(packet, "Acct-Session-Time"),
    inputOctets: combineOctets(getInt(packet, "Acct-Input-Octets"), getInt(packet, "Acct-Input-Gigawords")),
    outputOctets: combineOctets(getInt(packet, "Acct-Output-Octets"), getInt(packet, "Acct-Output-Gigawords")),
    inputPackets: getInt(packet, "Acct-Input-Packets"),
    outputPackets: getInt(packet, "Acct-Output-Packets"),
    delayTime: getInt(packet, "Acct-Delay-Time") ?? 0,
    terminateCause: terminateCauseCode === undefined ? undefined : (enumName("Acct-Terminate-Cause", terminateCauseCode) ?? `Unknown-${terminateCauseCode}`),
    terminateCauseCode,
    eventTimestamp: getDate(packet, "Event-Timestamp"),
    class: getBuffer(packet, "Class"),
  };
}
