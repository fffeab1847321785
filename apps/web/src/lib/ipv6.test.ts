import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { firstIssue, ipv6LookupQueryFromSearchParams, ipv6LookupQuerySchema, ipv6LookupSearchParams } from "./compliance-query";
import { formatIpv6, looksLikeIpv6, parseIpv6, parseIpv6Target } from "./ipv6";

const from = "2026-11-24T10:00:00.000Z";
const to = "2026-11-24T10:10:00.000Z";
const canon = (text: string) => {
  const t = parseIpv6Target(text);
  return t.ok ? t.text : t.reason;
};

describe("IPv6 parsing", () => {
  it("reads every textual form and writes RFC 5952", () => {
    expect(canon("2400:abcd:12:3401::10")).toBe("2400:abcd:12:3401::10");
    expect(canon("2400:ABCD:0012:3401:0000:0000:0000:0010")).toBe("2400:abcd:12:3401::10");
    expect(canon(" [2400:abcd:12:3401::10] ")).toBe("2400:abcd:12:3401::10");
    expect(canon("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1"); // the first of two equal runs
    expect(canon("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // one zero group is not "::"
    expect(canon("::")).toBe("::");
    expect(canon("::1")).toBe("::1");
    expect(canon("1::")).toBe("1::");
    expect(canon("::ffff:192.0.2.1")).toBe("::ffff:c000:201");
    expect(canon("64:ff9b::192.0.2.33")).toBe("64:ff9b::c000:221");
  });

  it("agrees with node's parser on what is an IPv6 address", () => {
    const samples = ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::8", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:7", ":1::", "1:::2", "::1.2.3.256", "::01.2.3.4", "g::1", "1.2.3.4", ""];
    for (const s of samples) expect(parseIpv6(s) !== null, s).toBe(isIP(s) === 6);
  });

  it("prefixes: host bits cleared, /128 is the address, zone and too short a prefix refused", () => {
    expect(canon("2400:abcd:12:3401::/56")).toBe("2400:abcd:12:3400::/56");
    expect(canon("2400:abcd:12:34ff:1::/60")).toBe("2400:abcd:12:34f0::/60");
    expect(canon("2400:abcd:12::/48")).toBe("2400:abcd:12::/48");
    expect(canon("2400:abcd:12:3401::10/128")).toBe("2400:abcd:12:3401::10");
    expect(canon("[2400:abcd:12:3400::]/56")).toBe("Enter a valid IPv6 address or prefix");
    expect(canon("fe80::1%eth0")).toMatch(/zone/);
    expect(canon("2400::/8")).toMatch(/\/16 or longer/);
    expect(canon("2400::/129")).toMatch(/0 to 128/);
    expect(canon("2400::/")).toMatch(/0 to 128/);
    expect(canon("203.0.113.10")).toBe("Enter a valid IPv6 address or prefix");
    expect(formatIpv6([0x2400, 0xabcd, 0, 0, 0, 0, 0, 1])).toBe("2400:abcd::1");
  });

  it("anything with a colon is an IPv6 question", () => {
    expect(looksLikeIpv6("2400::1")).toBe(true);
    expect(looksLikeIpv6("203.0.113.10")).toBe(false);
  });
});

describe("IPv6 lookup query", () => {
  it("canonicalises the address and checks the window like the NAT lookup", () => {
    expect(ipv6LookupQuerySchema.parse({ address: "[2400:ABCD:12:3401::10]", from, to })).toEqual({ address: "2400:abcd:12:3401::10", from, to });
    const issue = (q: object) => {
      const r = ipv6LookupQuerySchema.safeParse(q);
      return r.success ? null : firstIssue(r.error);
    };
    expect(issue({ address: "nope", from, to })).toBe("Enter a valid IPv6 address or prefix");
    expect(issue({ address: "2400::1", from: to, to: from })).toBe("The range ends before it starts");
    expect(issue({ address: "2400::1", from: "2026-01-01T00:00:00Z", to })).toMatch(/at most 31 days/);
  });

  it("survives the trip through an export link; a port there is ignored", () => {
    const q = ipv6LookupQuerySchema.parse({ address: "2400:abcd:12:3400::/56", from, to });
    const p = ipv6LookupSearchParams(q, "FIA/2026/1");
    expect(p.has("port")).toBe(false);
    const back = ipv6LookupQueryFromSearchParams(new URLSearchParams(p.toString()));
    expect(back.success && back.data).toEqual(q);
    const withPort = ipv6LookupQueryFromSearchParams(new URLSearchParams({ ip: "2400:abcd:12:3401::10", port: "443", from, to }));
    expect(withPort.success && withPort.data).toEqual({ address: "2400:abcd:12:3401::10", from, to });
  });
});
