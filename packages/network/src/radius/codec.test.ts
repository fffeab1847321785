import { describe, expect, it } from "vitest";
import {
  decodePacket,
  describeAttributes,
  encodePacket,
  getAllStrings,
  getBigInt,
  getDate,
  getInt,
  getIp,
  getString,
  PacketCode,
  RadiusDecodeError,
  RadiusEncodeError,
} from "./codec";
import { attribute, attributeByCode, enumName, enumValue, ErrorCause, VendorId } from "./dictionary";

const rfc7_1Request = Buffer.from(
  "01000038" + "0f403f9473978057bd83d5cb98f4227a" + "01066e656d6f" + "02120dbe708d93d413ce3196e43f782a0aee" + "0406c0a80110" + "050600000003",
  "hex",
);

describe("dictionary", () => {
  it("knows standard, RFC 5176 and vendor attributes by name", () => {
    expect(attribute("Message-Authenticator").code).toBe(80);
    expect(attribute("EAP-Message").code).toBe(79);
    expect(attribute("Acct-Interim-Interval").code).toBe(85);
    expect(attribute("Event-Timestamp").type).toBe("date");
    expect(attribute("Error-Cause").code).toBe(101);
    expect(enumValue("Error-Cause", "Session-Context-Not-Found")).toBe(503);
    expect(enumName("Error-Cause", 201)).toBe("Residual-Session-Context-Removed");
    expect(ErrorCause["Multiple-Session-Selection-Unsupported"]).toBe(508);
    expect(attribute("Mikrotik-Rate-Limit")).toMatchObject({ vendorId: VendorId.Mikrotik, code: 8, type: "string" });
    expect(attribute("Mikrotik-Address-List")).toMatchObject({ vendorId: 14988, code: 19 });
    expect(attribute("Cisco-AVPair")).toMatchObject({ vendorId: 9, code: 1 });
    expect(attribute("ERX-Service-Activate")).toMatchObject({ vendorId: 4874, code: 65 });
    expect(attributeByCode(8, 14988)?.name).toBe("Mikrotik-Rate-Limit");
    expect(enumValue("Acct-Status-Type", "Interim-Update")).toBe(3);
    expect(enumValue("Acct-Status-Type", "Accounting-Off")).toBe(8);
    expect(enumValue("NAS-Port-Type", "Ethernet")).toBe(15);
    expect(enumValue("Acct-Terminate-Cause", "Admin-Reset")).toBe(6);
    expect(() => attribute("No-Such-Attribute")).toThrow();
  });
});

describe("codec", () => {
  it("decodes the RFC 2865 7.1 Access-Request", () => {
    const p = decodePacket(rfc7_1Request);
    expect(p.code).toBe(PacketCode.AccessRequest);
    expect(p.identifier).toBe(0);
    expect(p.attributes).toHaveLength(4);
    expect(getString(p, "User-Name")).toBe("nemo");
    expect(getIp(p, "NAS-IP-Address")).toBe("192.168.1.16");
    expect(getInt(p, "NAS-Port")).toBe(3);
    expect(p.messageAuthenticatorOffset).toBe(-1);
  });

  it("re-encodes the RFC 2865 7.1 Access-Request byte for byte", () => {
    const p = decodePacket(rfc7_1Request);
    const raw = encodePacket({
      code: 1,
      identifier: 0,
      authenticator: p.authenticator,
      attributes: [
        ["User-Name", "nemo"],
        ["User-Password", p.attributes[1]!.value],
        ["NAS-IP-Address", "192.168.1.16"],
        ["NAS-Port", 3],
      ],
    });
    expect(raw.equals(rfc7_1Request)).toBe(true);
  });

  it("round-trips vendor attributes, enumerations, dates and repeated attributes", () => {
    const when = new Date("2025-01-02T03:04:05Z");
    const raw = encodePacket({
      code: PacketCode.AccessAccept,
      identifier: 7,
      attributes: [
        ["Service-Type", "Framed-User"],
        ["Mikrotik-Rate-Limit", "2M/10M"],
        ["Mikrotik-Address-List", "active"],
        ["Cisco-AVPair", "ip:addr-pool=a"],
        ["Cisco-AVPair", "subscriber:accounting-list=b"],
        ["ERX-Service-Activate", "svc-10M"],
        ["Event-Timestamp", when],
        ["Framed-IP-Address", "100.64.1.2"],
      ],
    });
    const p = decodePacket(raw);
    expect(p.identifier).toBe(7);
    expect(getInt(p, "Service-Type")).toBe(2);
    expect(getString(p, "Mikrotik-Rate-Limit")).toBe("2M/10M");
    expect(getString(p, "Mikrotik-Address-List")).toBe("active");
    expect(getAllStrings(p, "Cisco-AVPair")).toEqual(["ip:addr-pool=a", "subscriber:accounting-list=b"]);
    expect(getString(p, "ERX-Service-Activate")).toBe("svc-10M");
    expect(getDate(p, "Event-Timestamp")?.toISOString()).toBe(when.toISOString());
    expect(getIp(p, "Framed-IP-Address")).toBe("100.64.1.2");
    expect(getBigInt(p, "Service-Type")).toBe(2n);
    // VSA layout: 26, len, vendor-id(4), vendor-type, vendor-len, value
    const vsaAt = raw.indexOf(Buffer.from("2M/10M")) - 8;
    expect([...raw.subarray(vsaAt, vsaAt + 8)]).toEqual([26, 14, 0, 0, 0x3a, 0x8c, 8, 8]);
    expect(describeAttributes(p).map(([n]) => n)).toContain("Mikrotik-Rate-Limit");
  });

  it("keeps an unknown vendor's VSA opaque", () => {
    const raw = Buffer.concat([Buffer.from("0201001a", "hex"), Buffer.alloc(16), Buffer.from([26, 6, 0, 0, 0x30, 0x39])]);
    const p = decodePacket(raw);
    expect(p.attributes[0]).toMatchObject({ vendorId: 12345, type: 26 });
  });

  it("rejects bad values on encode", () => {
    expect(() => encodePacket({ code: 1, identifier: 0, attributes: [["Framed-IP-Address", "1.2.3"]] })).toThrow(RadiusEncodeError);
    expect(() => encodePacket({ code: 1, identifier: 0, attributes: [["Service-Type", "Nope"]] })).toThrow(RadiusEncodeError);
    expect(() => encodePacket({ code: 1, identifier: 0, attributes: [["User-Name", "x".repeat(254)]] })).toThrow(RadiusEncodeError);
    expect(() => encodePacket({ code: 1, identifier: 0, attributes: [["Mikrotik-Group", "x".repeat(248)]] })).toThrow(RadiusEncodeError);
    expect(() => encodePacket({ code: 1, identifier: 0, attributes: [["Bogus", "x"]] })).toThrow(RadiusEncodeError);
  });

  const header = (length: number) => Buffer.concat([Buffer.from([1, 0, length >> 8, length & 255]), Buffer.alloc(16)]);
  it.each([
    ["too-short", Buffer.alloc(19)],
    ["length-field-invalid", header(19)],
    ["length-field-invalid", Buffer.concat([header(4097), Buffer.alloc(4077)])],
    ["truncated", header(30)],
    ["attribute-header-truncated", Buffer.concat([header(21), Buffer.from([1])])],
    ["attribute-length-invalid", Buffer.concat([header(22), Buffer.from([1, 1])])],
    ["attribute-overflow", Buffer.concat([header(22), Buffer.from([1, 9])])],
    ["vsa-truncated", Buffer.concat([header(25), Buffer.from([26, 5, 0, 0, 0x3a])])],
    ["vsa-truncated", Buffer.concat([header(26), Buffer.from([26, 6, 0, 0, 0x3a, 0x8c])])],
    ["vsa-sub-attribute-invalid", Buffer.concat([header(30), Buffer.from([26, 10, 0, 0, 0x3a, 0x8c, 8, 9, 0x41, 0x42])])],
    ["vsa-sub-attribute-invalid", Buffer.concat([header(28), Buffer.from([26, 8, 0, 0, 0x3a, 0x8c, 8, 1])])],
    ["message-authenticator-length", Buffer.concat([header(24), Buffer.from([80, 4, 0, 0])])],
  ])("fails with reason %s", (reason, buf) => {
    try {
      decodePacket(buf);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RadiusDecodeError);
      expect((err as RadiusDecodeError).reason).toBe(reason);
    }
  });

  it("ignores padding beyond the length field", () => {
    const p = decodePacket(Buffer.concat([rfc7_1Request, Buffer.alloc(10, 0xff)]));
    expect(p.raw.length).toBe(rfc7_1Request.length);
    expect(getString(p, "User-Name")).toBe("nemo");
  });

  it("survives 20k random and truncated inputs with only RadiusDecodeError", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const valid = encodePacket({
      code: 4,
      identifier: 9,
      attributes: [
        ["User-Name", "alice"],
        ["Mikrotik-Rate-Limit", "1M/4M"],
        ["Acct-Input-Octets", 5],
        ["Cisco-AVPair", "a=b"],
      ],
    });
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      let buf: Buffer;
      const mode = i % 4;
      if (mode === 0) buf = valid.subarray(0, Math.floor(rnd() * valid.length));
      else if (mode === 1) {
        buf = Buffer.from(valid);
        for (let k = 0; k < 3; k++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      } else if (mode === 2) {
        const len = 20 + Math.floor(rnd() * 200);
        buf = Buffer.alloc(len);
        for (let k = 0; k < len; k++) buf[k] = Math.floor(rnd() * 256);
        buf.writeUInt16BE(rnd() < 0.7 ? len : Math.floor(rnd() * 65536), 2);
      } else {
        buf = Buffer.alloc(Math.floor(rnd() * 60));
        for (let k = 0; k < buf.length; k++) buf[k] = Math.floor(rnd() * 256);
      }
      try {
        const p = decodePacket(buf);
        describeAttributes(p);
        decoded++;
      } catch (err) {
        if (!(err instanceof RadiusDecodeError)) throw err;
      }
    }
    expect(decoded).toBeGreaterThan(100);
  });
});
