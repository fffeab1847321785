import pg from "pg";
import { describe, expect, it } from "vitest";
import { ipBytes, isPgConnection, macSpellings, natLogRowProblem, truncateUtf8, type NatLogRow } from "./nat-log";

const row: NatLogRow = {
  time: new Date("2026-11-24T05:15:01Z"),
  routerId: 1,
  sourceIp: "127.0.0.1",
  event: "packet",
  protocol: "tcp",
  privateIp: "10.0.10.76",
  privatePort: 61127,
  publicIp: "203.0.113.10",
  publicPort: 61127,
  destIp: "40.127.110.237",
  destPort: 443,
  subscriberId: 7,
  acctSessionId: "81a00001",
  pppoeUser: "ahmed.khan",
  srcMac: "4c:5e:0c:11:22:33",
};

describe("natLogRowProblem", () => {
  it("accepts a complete row, IPv6 addresses and port-less protocols", () => {
    expect(natLogRowProblem(row)).toBeNull();
    expect(natLogRowProblem({ ...row, destIp: "2001:db8::1", privatePort: null, publicPort: null, destPort: null, protocol: "icmp" })).toBeNull();
    expect(natLogRowProblem({ ...row, srcMac: "4C-5E-0C-11-22-33", routerId: null, subscriberId: null })).toBeNull();
  });

  it.each<[Partial<NatLogRow>, RegExp]>([
    [{ time: new Date("x") }, /time/],
    [{ event: "opened" as NatLogRow["event"] }, /event "opened"/],
    [{ protocol: "" }, /protocol/],
    [{ publicIp: "203.0.113.256" }, /publicIp/],
    [{ privateIp: "10.0.10" }, /privateIp/],
    [{ destIp: "example.com" }, /destIp/],
    [{ sourceIp: "" }, /sourceIp/],
    [{ publicPort: 65536 }, /publicPort 65536/],
    [{ privatePort: -1 }, /privatePort/],
    [{ destPort: 80.5 }, /destPort/],
    [{ routerId: 2 ** 31 }, /routerId/],
    [{ subscriberId: 1.5 }, /subscriberId/],
    [{ srcMac: "4c:5e:0c:11:22" }, /srcMac/],
    [{ srcMac: "4c:5e-0c:11:22:33" }, /srcMac/],
  ])("names the bad field in %j", (patch, re) => {
    expect(natLogRowProblem({ ...row, ...patch })).toMatch(re);
  });
});

describe("macSpellings", () => {
  it("covers the spellings NASes use in Calling-Station-Id", () => {
    const s = macSpellings("4c5e.0c11.2233");
    expect(s).toEqual(expect.arrayContaining(["4C:5E:0C:11:22:33", "4c:5e:0c:11:22:33", "4C-5E-0C-11-22-33", "4c5e.0c11.2233", "4C5E0C112233"]));
    expect(macSpellings(" 4C:5E:0C:11:22:33 ")).toEqual(s);
  });

  it("refuses what is not 12 hex digits", () => {
    expect(() => macSpellings("4c:5e:0c:11:22")).toThrow(RangeError);
    expect(() => macSpellings("4c:5e:0c:11:22:3g")).toThrow(/not a MAC address/);
    expect(() => macSpellings("")).toThrow(RangeError);
  });
});

describe("truncateUtf8", () => {
  it("cuts on a character boundary at or below the byte limit", () => {
    expect(truncateUtf8("abc", 8)).toBe("abc");
    expect(truncateUtf8("abcdefghij", 4)).toBe("abcd");
    // é is 2 bytes: 5 bytes fit two of them, not two and a half.
    expect(truncateUtf8("ééé", 5)).toBe("éé");
    // 😀 is 4 bytes (a surrogate pair in JS).
    expect(truncateUtf8("a😀b", 4)).toBe("a");
    expect(truncateUtf8("a😀b", 5)).toBe("a😀");
    const big = "ü".repeat(5000);
    const cut = truncateUtf8(big, 8192);
    expect(Buffer.byteLength(cut)).toBe(8192);
    expect(big.startsWith(cut)).toBe(true);
  });
});

describe("isPgConnection", () => {
  it("is true for a pg Client and false for a Pool, a plain query object or PGlite-like objects", async () => {
    const client = new pg.Client({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    expect(isPgConnection(client)).toBe(true);
    const pool = new pg.Pool({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    expect(isPgConnection(pool)).toBe(false);
    await pool.end();
    expect(isPgConnection({ query: async () => ({ rows: [] }) })).toBe(false);
    expect(isPgConnection(null)).toBe(false);
  });
});

describe("ipBytes (binary COPY)", () => {
  it.each<[string, number[]]>([
    ["203.0.113.10", [203, 0, 113, 10]],
    ["0.0.0.0", [0, 0, 0, 0]],
    ["::", new Array<number>(16).fill(0)],
    ["::1", [...new Array<number>(15).fill(0), 1]],
    ["2001:db8::1", [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]],
    ["2001:db8:0:0:1:0:0:1", [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]],
    ["fe80::", [0xfe, 0x80, ...new Array<number>(14).fill(0)]],
    ["::ffff:192.0.2.1", [...new Array<number>(10).fill(0), 0xff, 0xff, 192, 0, 2, 1]],
    ["1:2:3:4:5:6:7.8.9.10", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 7, 8, 9, 10]],
    ["ABCD:EF01::ffff", [0xab, 0xcd, 0xef, 0x01, ...new Array<number>(10).fill(0), 0xff, 0xff]],
  ])("%s", (ip, bytes) => {
    expect(ipBytes(ip)).toEqual(bytes);
  });
});
