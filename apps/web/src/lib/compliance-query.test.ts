import { describe, expect, it } from "vitest";
import { firstIssue, lookupQueryFromSearchParams, lookupQuerySchema, lookupSearchParams, normalizeMac, sessionQuerySchema } from "./compliance-query";

const from = "2026-11-24T10:00:00.000Z";
const to = "2026-11-24T10:10:00.000Z";

describe("lookup query", () => {
  it("accepts IPv4 and IPv6 with an optional port", () => {
    expect(lookupQuerySchema.parse({ publicIp: " 203.0.113.10 ", from, to })).toEqual({ publicIp: "203.0.113.10", publicPort: null, from, to });
    expect(lookupQuerySchema.parse({ publicIp: "2001:db8::1", publicPort: 443, from, to }).publicPort).toBe(443);
  });

  it("names the problem: bad address, bad port, inverted or too wide a range", () => {
    const issue = (q: object) => {
      const r = lookupQuerySchema.safeParse(q);
      return r.success ? null : firstIssue(r.error);
    };
    expect(issue({ publicIp: "203.0.113.300", from, to })).toBe("Enter a valid IPv4 or IPv6 address");
    expect(issue({ publicIp: "example.com", from, to })).toBe("Enter a valid IPv4 or IPv6 address");
    expect(issue({ publicIp: "203.0.113.10", publicPort: 70000, from, to })).toMatch(/65535/);
    expect(issue({ publicIp: "203.0.113.10", from: to, to: from })).toBe("The range ends before it starts");
    expect(issue({ publicIp: "203.0.113.10", from: "2026-01-01T00:00:00Z", to })).toMatch(/at most 31 days/);
  });

  it("survives the trip through an export link", () => {
    const q = lookupQuerySchema.parse({ publicIp: "2001:db8::1", publicPort: 0, from, to });
    const p = lookupSearchParams(q, "FIA/2026/1");
    expect(p.get("ref")).toBe("FIA/2026/1");
    const back = lookupQueryFromSearchParams(new URLSearchParams(p.toString()));
    expect(back.success && back.data).toEqual(q);
    const noPort = lookupQueryFromSearchParams(new URLSearchParams({ ip: "203.0.113.10", from, to, port: "" }));
    expect(noPort.success && noPort.data.publicPort).toBeNull();
    expect(lookupQueryFromSearchParams(new URLSearchParams({ ip: "203.0.113.10", from, to, port: "80x" })).success).toBe(false);
  });
});

describe("session query", () => {
  it("checks the value against the kind of search", () => {
    expect(sessionQuerySchema.safeParse({ by: "account", value: "ACC-100001", from, to }).success).toBe(true);
    expect(sessionQuerySchema.safeParse({ by: "ip", value: "10.0.10.76", from, to }).success).toBe(true);
    expect(sessionQuerySchema.safeParse({ by: "ip", value: "ACC-1", from, to }).success).toBe(false);
    expect(sessionQuerySchema.safeParse({ by: "mac", value: "4C-5E-0C-12-34-56", from, to }).success).toBe(true);
    expect(sessionQuerySchema.safeParse({ by: "mac", value: "4C:5E:0C", from, to }).success).toBe(false);
    expect(sessionQuerySchema.safeParse({ by: "account", value: "  ", from, to }).success).toBe(false);
  });

  it("normalises the MAC spellings routers use", () => {
    for (const m of ["4C:5E:0C:12:34:56", "4c-5e-0c-12-34-56", "4c5e.0c12.3456", "4C5E0C123456"]) expect(normalizeMac(m), m).toBe("4c:5e:0c:12:34:56");
    expect(normalizeMac("4C:5E-0C:12:34:56")).toBeNull();
    expect(normalizeMac("zz:5e:0c:12:34:56")).toBeNull();
  });
});
