// The ipv6prefix attribute type (RFC 3162 2.3 / RFC 4818): byte layout, round trips through
// the packet codec, malformed input, and FreeRADIUS's radclient decoding what we send and
// sending what we decode (a real, independent implementation of the same encoding).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePacket, describeAttributes, encodePacket, getIpv6Prefix, PacketCode, RadiusEncodeError } from "./codec";
import { decodeIpv6Prefix, encodeIpv6Prefix, formatIpv6, Ipv6PrefixError, parseIpv6 } from "./ipv6-prefix";
import { createRadiusServer, type RadiusServer } from "./server";

const hex = (b: Buffer) => b.toString("hex");

describe("ipv6prefix values", () => {
  it("lays out reserved octet, prefix length, then only the octets the length covers", () => {
    // RFC 3162 2.3: Type | Length | Reserved | Prefix-Length | Prefix (up to 16 octets).
    expect(hex(encodeIpv6Prefix("2001:db8::/32"))).toBe("0020" + "20010db8");
    expect(hex(encodeIpv6Prefix("2400:abcd:12:3400::/56"))).toBe("0038" + "2400abcd001234");
    expect(hex(encodeIpv6Prefix("2400:abcd:12:3450::/60"))).toBe("003c" + "2400abcd00123450");
    expect(hex(encodeIpv6Prefix("2001:db8:0:1::/64"))).toBe("0040" + "20010db800000001");
    expect(hex(encodeIpv6Prefix("::/0"))).toBe("0000");
    expect(hex(encodeIpv6Prefix("2001:db8::1/128"))).toBe("0080" + "20010db8000000000000000000000001");
  });

  it("decodes to RFC 5952 text, accepting full 16-octet prefixes and ignoring bits past the length", () => {
    expect(decodeIpv6Prefix(Buffer.from("003820010db8001234", "hex"))).toBe("2001:db8:12:3400::/56");
    expect(decodeIpv6Prefix(Buffer.from("0040" + "20010db8000000010000000000000000", "hex"))).toBe("2001:db8:0:1::/64");
    expect(decodeIpv6Prefix(Buffer.from("003c2400abcd0012345f", "hex"))).toBe("2400:abcd:12:3450::/60");
    expect(decodeIpv6Prefix(Buffer.from("00", "hex"))).toBeUndefined();
    expect(decodeIpv6Prefix(Buffer.from("0081" + "00".repeat(16), "hex"))).toBeUndefined();
    expect(decodeIpv6Prefix(Buffer.from("00402001", "hex"))).toBeUndefined(); // /64 needs 8 octets
  });

  it("parses and formats addresses like inet_pton / RFC 5952", () => {
    expect(hex(parseIpv6("::ffff:10.1.2.3"))).toBe("00000000000000000000ffff0a010203");
    expect(formatIpv6(parseIpv6("2001:0DB8:0000:0000:0001:0000:0000:0001"))).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(parseIpv6("2001:db8:0:1:1:1:1:1"))).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIpv6(parseIpv6("::"))).toBe("::");
    for (const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7", ":", "1.2.3.4"]) {
      expect(() => parseIpv6(bad), bad).toThrow(Ipv6PrefixError);
    }
    expect(() => encodeIpv6Prefix("2400:abcd::1/56")).toThrow(/beyond \/56/);
    expect(() => encodeIpv6Prefix("2400:abcd::/129")).toThrow(/prefix length/);
    expect(() => encodeIpv6Prefix("2400:abcd::")).toThrow(/no prefix length/);
  });

  it("round-trips through a packet as Delegated-IPv6-Prefix and Framed-IPv6-Prefix", () => {
    const raw = encodePacket({
      code: PacketCode.AccessAccept,
      identifier: 7,
      attributes: [
        ["Framed-IPv6-Prefix", "2001:db8:0:1::/64"],
        ["Delegated-IPv6-Prefix", "2400:abcd:12:3400::/56"],
      ],
    });
    // Header 20, then 97 len 2+10, then 123 len 2+9.
    expect(hex(raw.subarray(20))).toBe("610c" + "0040" + "20010db800000001" + "7b0b" + "0038" + "2400abcd001234");
    const p = decodePacket(raw);
    expect(getIpv6Prefix(p, "Delegated-IPv6-Prefix")).toBe("2400:abcd:12:3400::/56");
    expect(getIpv6Prefix(p, "Framed-IPv6-Prefix")).toBe("2001:db8:0:1::/64");
    expect(describeAttributes(p)).toEqual([
      ["Framed-IPv6-Prefix", "2001:db8:0:1::/64"],
      ["Delegated-IPv6-Prefix", "2400:abcd:12:3400::/56"],
    ]);
    expect(() => encodePacket({ code: 2, identifier: 0, attributes: [["Delegated-IPv6-Prefix", "2400::1/56"]] })).toThrow(RadiusEncodeError);
  });
});

const RADCLIENT = "/usr/bin/radclient";
const haveRadclient = existsSync(RADCLIENT);
const SECRET = "v6-interop";

describe.skipIf(!haveRadclient)("ipv6prefix with radclient", () => {
  let server: RadiusServer;
  let port = 0;
  const seen: Array<string | undefined> = [];

  beforeAll(async () => {
    server = createRadiusServer({
      kind: "acct",
      host: "127.0.0.1",
      port: 0,
      secretFor: (ip) => (ip === "127.0.0.1" ? SECRET : undefined),
      handler: (req) => {
        seen.push(getIpv6Prefix(req.packet, "Delegated-IPv6-Prefix"));
        return { code: PacketCode.AccountingResponse };
      },
    });
    port = await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("decodes the prefix radclient encodes", async () => {
    const out = await new Promise<string>((resolve) => {
      const child = execFile(RADCLIENT, ["-x", "-r", "1", "-t", "2", `127.0.0.1:${port}`, "acct", SECRET], { timeout: 10_000 }, (_err, stdout, stderr) => resolve(stdout + stderr));
      child.stdin!.end('Acct-Status-Type = Start, Acct-Session-Id = "v6", User-Name = "u", Delegated-IPv6-Prefix = 2400:abcd:12:3400::/56\n');
    });
    expect(out).toMatch(/Received Accounting-Response/);
    expect(seen).toEqual(["2400:abcd:12:3400::/56"]);
  });
});
