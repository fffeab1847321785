// What an Access-Accept says, per NAS vendor, from the dictionary's attribute names.
// MikroTik: Mikrotik-Rate-Limit (with burst) and Mikrotik-Address-List. Cisco ISG:
// Cisco-AVPair "subscriber:sub-qos-policy-in/out=<policy>" naming policy-maps the BNG
// defines (RL-<kbps>K). Juniper: ERX-Service-Activate "svc-rate(<down bps>,<up bps>)"
// for a parameterised service profile named svc-rate. Walled garden on Cisco, Juniper
// and others: Filter-Id (RFC 2865 5.11) naming the filter. Everyone: RFC attributes.
import { mikrotikRateLimit } from "@isp/network/radius/rate-limit";
import type { Grant, Rate } from "./auth-decision";

export type ReplyValue = string | number | Buffer;
export type ReplyAttributes = Array<[string, ReplyValue]>;

export type Vendor = "mikrotik" | "cisco" | "juniper" | "other";

export function asVendor(v: string | undefined): Vendor {
  return v === "mikrotik" || v === "cisco" || v === "juniper" ? v : "other";
}

export function ciscoPolicyName(kbps: number): string {
  return `RL-${kbps}K`;
}

export function juniperServiceActivate(rate: Rate): string {
  return `svc-rate(${rate.downloadKbps * 1000},${rate.uploadKbps * 1000})`;
}

export function vendorRateAttributes(vendor: Vendor, rate: Rate): ReplyAttributes {
  switch (vendor) {
    case "mikrotik":
      return [["Mikrotik-Rate-Limit", mikrotikRateLimit(rate)]];
    case "cisco":
      return [
        ["Cisco-AVPair", `subscriber:sub-qos-policy-in=${ciscoPolicyName(rate.uploadKbps)}`],
        ["Cisco-AVPair", `subscriber:sub-qos-policy-out=${ciscoPolicyName(rate.downloadKbps)}`],
      ];
    case "juniper":
      return [["ERX-Service-Activate", juniperServiceActivate(rate)]];
    case "other":
      return [];
  }
}

export interface AcceptExtras {
  /** Leased from a database pool (a static IP is in the grant). */
  pooledIp: string | null;
  /** true: the NAS has database pools, so Framed-Pool must not be sent. */
  hasDatabasePools: boolean;
  /** IPv6 lease: 'delegated' -> Delegated-IPv6-Prefix (DHCPv6-PD, RFC 4818), 'framed' -> Framed-IPv6-Prefix (RFC 3162). */
  ipv6?: { prefix: string; kind: "delegated" | "framed" } | null;
}

export function acceptAttributes(vendor: Vendor, grant: Grant, extras: AcceptExtras): ReplyAttributes {
  const out: ReplyAttributes = vendorRateAttributes(vendor, grant.rate);
  if (grant.addressList) {
    out.push(vendor === "mikrotik" ? ["Mikrotik-Address-List", grant.addressList] : ["Filter-Id", grant.addressList]);
  }
  const ip = grant.staticIp ?? extras.pooledIp;
  if (ip) out.push(["Framed-IP-Address", ip]);
  else if (grant.framedPool && !extras.hasDatabasePools) out.push(["Framed-Pool", grant.framedPool]);
  if (extras.ipv6) out.push([extras.ipv6.kind === "framed" ? "Framed-IPv6-Prefix" : "Delegated-IPv6-Prefix", extras.ipv6.prefix]);
  if (grant.sessionTimeoutS !== null) out.push(["Session-Timeout", grant.sessionTimeoutS]);
  if (grant.idleTimeoutS !== null) out.push(["Idle-Timeout", grant.idleTimeoutS]);
  out.push(["Acct-Interim-Interval", grant.acctInterimIntervalS]);
  return out;
}

/** One line for the auth log, e.g. "service 2M/8M ip=100.64.0.2". Never holds secrets. */
export function replySummary(grant: Grant, ip: string | null): string {
  const parts: string[] = [grant.kind, `${grant.rate.uploadKbps}k/${grant.rate.downloadKbps}k`];
  if (grant.rate.burst) parts.push("burst");
  if (grant.addressList) parts.push(`list=${grant.addressList}`);
  if (ip) parts.push(`ip=${ip}`);
  else if (grant.framedPool) parts.push(`pool=${grant.framedPool}`);
  if (grant.sessionTimeoutS !== null) parts.push(`timeout=${grant.sessionTimeoutS}s`);
  return parts.join(" ");
}
