// Reply attributes per vendor, encoded with the real codec and decoded again, so a name
// missing from the dictionary or a value of the wrong type fails here.
import { encodeResponse } from "@isp/network/radius/auth";
import { decodePacket, describeAttributes, PacketCode } from "@isp/network/radius/codec";
import { parseMikrotikRateLimit } from "@isp/network/radius/rate-limit";
import { describe, expect, it } from "vitest";
import type { Grant } from "./auth-decision";
import { acceptAttributes, replySummary, type Vendor } from "./reply-attributes";

const grant = (over: Partial<Grant> = {}): Grant => ({
  kind: "service",
  rate: { downloadKbps: 8192, uploadKbps: 2048 },
  addressList: null,
  staticIp: null,
  framedPool: null,
  sessionTimeoutS: null,
  idleTimeoutS: null,
  acctInterimIntervalS: 300,
  ...over,
});

function roundTrip(vendor: Vendor, g: Grant, pooledIp: string | null = null, hasDatabasePools = false) {
  const raw = encodeResponse({
    code: PacketCode.AccessAccept,
    identifier: 1,
    requestAuthenticator: Buffer.alloc(16, 7),
    attributes: acceptAttributes(vendor, g, { pooledIp, hasDatabasePools }),
    secret: "s",
  });
  return describeAttributes(decodePacket(raw)).filter(([n]) => n !== "Message-Authenticator");
}

describe("Access-Accept attributes per vendor", () => {
  it("IPv6: Delegated-IPv6-Prefix for a delegated lease, Framed-IPv6-Prefix for a framed one, after the IPv4 address", () => {
    const encode = (ipv6: { prefix: string; kind: "delegated" | "framed" }) =>
      describeAttributes(
        decodePacket(
          encodeResponse({
            code: PacketCode.AccessAccept,
            identifier: 1,
            requestAuthenticator: Buffer.alloc(16, 7),
            attributes: acceptAttributes("mikrotik", grant(), { pooledIp: "100.64.0.2", hasDatabasePools: true, ipv6 }),
            secret: "s",
          }),
        ),
      ).filter(([n]) => n !== "Message-Authenticator");
    expect(encode({ prefix: "2400:abcd:12:3400::/56", kind: "delegated" }).slice(1, 3)).toEqual([
      ["Framed-IP-Address", "100.64.0.2"],
      ["Delegated-IPv6-Prefix", "2400:abcd:12:3400::/56"],
    ]);
    expect(encode({ prefix: "2400:beef:0:1::/64", kind: "framed" }).slice(1, 3)).toEqual([
      ["Framed-IP-Address", "100.64.0.2"],
      ["Framed-IPv6-Prefix", "2400:beef:0:1::/64"],
    ]);
  });

  it("MikroTik: Mikrotik-Rate-Limit rx/tx from the router's view, burst, address list", () => {
    const burst = { downloadKbps: 16384, uploadKbps: 4096, thresholdDownloadKbps: 6144, thresholdUploadKbps: 1536, timeSeconds: 8 };
    const attrs = roundTrip("mikrotik", grant({ rate: { downloadKbps: 8192, uploadKbps: 2048, burst }, addressList: "walled-garden" }), "100.64.0.2");
    expect(attrs).toEqual([
      ["Mikrotik-Rate-Limit", "2M/8M 4M/16M 1536k/6M 8/8"],
      ["Mikrotik-Address-List", "walled-garden"],
      ["Framed-IP-Address", "100.64.0.2"],
      ["Acct-Interim-Interval", 300],
    ]);
    expect(parseMikrotikRateLimit("2M/8M 4M/16M 1536k/6M 8/8")).toEqual({ downloadKbps: 8192, uploadKbps: 2048 });
  });

  it("Cisco: ISG sub-qos-policy-in (upload) and -out (download); walled garden as Filter-Id", () => {
    const attrs = roundTrip("cisco", grant({ addressList: "walled-garden" }));
    expect(attrs).toEqual([
      ["Cisco-AVPair", "subscriber:sub-qos-policy-in=RL-2048K"],
      ["Cisco-AVPair", "subscriber:sub-qos-policy-out=RL-8192K"],
      ["Filter-Id", "walled-garden"],
      ["Acct-Interim-Interval", 300],
    ]);
  });

  it("Juniper: ERX-Service-Activate svc-rate(down bps, up bps)", () => {
    expect(roundTrip("juniper", grant())).toEqual([
      ["ERX-Service-Activate", "svc-rate(8192000,2048000)"],
      ["Acct-Interim-Interval", 300],
    ]);
  });

  it("RFC only for other vendors: Framed-Pool when no database pool, Session-Timeout, Idle-Timeout", () => {
    expect(roundTrip("other", grant({ framedPool: "pool-a", sessionTimeoutS: 3600, idleTimeoutS: 900 }))).toEqual([
      ["Framed-Pool", "pool-a"],
      ["Session-Timeout", 3600],
      ["Idle-Timeout", 900],
      ["Acct-Interim-Interval", 300],
    ]);
  });

  it("a static IP wins over a pool; Framed-Pool is not sent when database pools serve the NAS", () => {
    expect(roundTrip("other", grant({ staticIp: "10.50.0.9", framedPool: "pool-a" }))).toContainEqual(["Framed-IP-Address", "10.50.0.9"]);
    const noPool = roundTrip("other", grant({ framedPool: "pool-a" }), null, true);
    expect(noPool.map(([n]) => n)).not.toContain("Framed-Pool");
  });

  it("the auth log summary names the grant, never a secret", () => {
    expect(replySummary(grant({ kind: "fup", sessionTimeoutS: 60 }), "100.64.0.9")).toBe("fup 2048k/8192k ip=100.64.0.9 timeout=60s");
  });
});
