import { describe, expect, it } from "vitest";
import {
  accountingRequestAuthenticator,
  chapPassword,
  decryptUserPassword,
  encodeRequest,
  encodeResponse,
  encryptUserPassword,
  hasValidMessageAuthenticator,
  papPassword,
  responseAuthenticator,
  verifyAccountingRequestAuthenticator,
  verifyChap,
  verifyMessageAuthenticator,
  verifyResponseAuthenticator,
} from "./auth";
import { decodePacket, encodePacket, getString, MESSAGE_AUTHENTICATOR_VALUE_OFFSET, PacketCode } from "./codec";

const secret = "xyzzy5461";
const rfc7_1Request = Buffer.from(
  "01000038" + "0f403f9473978057bd83d5cb98f4227a" + "01066e656d6f" + "02120dbe708d93d413ce3196e43f782a0aee" + "0406c0a80110" + "050600000003",
  "hex",
);
const rfc7_1Accept = Buffer.from("02000026" + "86fe220e7624ba2a1005f6bf9b55e0b2" + "0606000000010f06000000000e06c0a80103", "hex");
const rfc7_2Request = Buffer.from(
  "01010047" +
    "2aee86f08d0d55969ca5978e0d3367a2" +
    "0108666c6f707379" +
    "031316e97557c316185895f293ff6344077275" +
    "0406c0a80110" +
    "050600000014" +
    "060600000002" +
    "070600000001",
  "hex",
);

describe("RFC 2865 section 7.1 (PAP)", () => {
  it("decrypts the User-Password", () => {
    expect(papPassword(decodePacket(rfc7_1Request), secret)).toBe("arctangent");
  });

  it("encrypts the User-Password byte for byte", () => {
    const p = decodePacket(rfc7_1Request);
    expect(encryptUserPassword("arctangent", secret, p.authenticator).toString("hex")).toBe("0dbe708d93d413ce3196e43f782a0aee");
  });

  it("encodes the Access-Accept with the RFC's Response Authenticator", () => {
    const req = decodePacket(rfc7_1Request);
    const raw = encodeResponse({
      code: PacketCode.AccessAccept,
      identifier: req.identifier,
      requestAuthenticator: req.authenticator,
      attributes: [
        ["Service-Type", "Login-User"],
        ["Login-Service", "Telnet"],
        ["Login-IP-Host", "192.168.1.3"],
      ],
      secret,
      messageAuthenticator: false,
    });
    expect(raw.toString("hex")).toBe(rfc7_1Accept.toString("hex"));
    expect(verifyResponseAuthenticator(rfc7_1Accept, req.authenticator, secret)).toBe(true);
    expect(verifyResponseAuthenticator(rfc7_1Accept, req.authenticator, "wrong")).toBe(false);
  });
});

describe("RFC 2865 section 7.2 (CHAP)", () => {
  const p = decodePacket(rfc7_2Request);
  it("verifies CHAP-Password with the Request Authenticator as challenge", () => {
    expect(getString(p, "User-Name")).toBe("flopsy");
    expect(verifyChap(p, "arctangent")).toBe(true);
    expect(verifyChap(p, "arctangenT")).toBe(false);
  });
  it("builds the same CHAP-Password", () => {
    expect(chapPassword(0x16, "arctangent", p.authenticator).toString("hex")).toBe("16e97557c316185895f293ff6344077275");
  });
  it("uses CHAP-Challenge when present", () => {
    const challenge = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const { raw } = encodeRequest({
      code: 1,
      identifier: 3,
      secret: "s",
      attributes: [
        ["User-Name", "bob"],
        ["CHAP-Password", chapPassword(7, "pw", challenge)],
        ["CHAP-Challenge", challenge],
      ],
    });
    const q = decodePacket(raw);
    expect(verifyChap(q, "pw")).toBe(true);
    expect(verifyChap(q, "pw2")).toBe(false);
  });
});

describe("PAP round trips", () => {
  it.each([1, 15, 16, 17, 31, 32, 33, 100, 128])("password of %i bytes", (n) => {
    const password = Buffer.alloc(n);
    for (let i = 0; i < n; i++) password[i] = 33 + ((i * 7) % 90);
    const { raw } = encodeRequest({ code: 1, identifier: 1, secret: "s3cr3t", attributes: [["User-Password", password.toString("latin1")]] });
    const p = decodePacket(raw);
    const hidden = p.attributes.find((a) => a.type === 2)!.value;
    expect(hidden.length).toBe(Math.max(16, Math.ceil(n / 16) * 16));
    expect(hidden.subarray(0, n).equals(password)).toBe(false);
    expect(papPassword(p, "s3cr3t")).toBe(password.toString("latin1"));
    expect(papPassword(p, "other")).not.toBe(password.toString("latin1"));
  });
  it("rejects passwords longer than 128 bytes and malformed hidden values", () => {
    expect(() => encryptUserPassword("x".repeat(129), "s", Buffer.alloc(16))).toThrow();
    expect(decryptUserPassword(Buffer.alloc(15), "s", Buffer.alloc(16))).toBeUndefined();
    expect(decryptUserPassword(Buffer.alloc(144), "s", Buffer.alloc(16))).toBeUndefined();
  });
});

describe("Message-Authenticator", () => {
  it("is placed first and verifies on requests; tampering is detected", () => {
    const { raw } = encodeRequest({ code: 1, identifier: 5, secret: "s", attributes: [["User-Name", "alice"], ["User-Password", "pw"]] });
    expect(raw[20]).toBe(80);
    expect(raw[21]).toBe(18);
    const p = decodePacket(raw);
    expect(p.messageAuthenticatorOffset).toBe(MESSAGE_AUTHENTICATOR_VALUE_OFFSET);
    expect(hasValidMessageAuthenticator(p, "s")).toBe(true);
    expect(verifyMessageAuthenticator(p, "t")).toBe(false);
    for (const at of [1, 10, 21 + 18 + 3, raw.length - 1]) {
      const t = Buffer.from(raw);
      t[at]! ^= 0x01;
      expect(verifyMessageAuthenticator(decodePacket(t), "s")).toBe(false);
    }
  });

  it("verifies on responses with the request authenticator", () => {
    const reqAuth = Buffer.alloc(16, 7);
    const raw = encodeResponse({ code: 2, identifier: 5, requestAuthenticator: reqAuth, secret: "s", attributes: [["Mikrotik-Rate-Limit", "1M/2M"]] });
    expect(raw[20]).toBe(80);
    const p = decodePacket(raw);
    expect(verifyMessageAuthenticator(p, "s", reqAuth)).toBe(true);
    expect(verifyMessageAuthenticator(p, "s", Buffer.alloc(16, 8))).toBe(false);
    expect(verifyResponseAuthenticator(raw, reqAuth, "s")).toBe(true);
    expect(responseAuthenticator(raw, reqAuth, "s").equals(p.authenticator)).toBe(true);
  });

  it("computes it over a zeroed Authenticator in Accounting-Response, as FreeRADIUS does", () => {
    const reqAuth = Buffer.alloc(16, 3);
    const raw = encodeResponse({ code: PacketCode.AccountingResponse, identifier: 1, requestAuthenticator: reqAuth, secret: "s", attributes: [] });
    const p = decodePacket(raw);
    expect(verifyMessageAuthenticator(p, "s", reqAuth)).toBe(true);
    expect(verifyResponseAuthenticator(raw, reqAuth, "s")).toBe(true);
  });

  it("absent Message-Authenticator is not required by verifyMessageAuthenticator but is by hasValid", () => {
    const p = decodePacket(rfc7_1Request);
    expect(verifyMessageAuthenticator(p, secret)).toBe(true);
    expect(hasValidMessageAuthenticator(p, secret)).toBe(false);
  });
});

describe("Accounting / CoA request authenticators", () => {
  it.each([PacketCode.AccountingRequest, PacketCode.DisconnectRequest, PacketCode.CoaRequest])("code %i verifies and detects tampering", (code) => {
    const { raw } = encodeRequest({ code, identifier: 1, secret: "s", attributes: [["Acct-Session-Id", "abc"], ["User-Name", "u"]] });
    const p = decodePacket(raw);
    expect(verifyAccountingRequestAuthenticator(p, "s")).toBe(true);
    expect(verifyMessageAuthenticator(p, "s")).toBe(true);
    expect(verifyAccountingRequestAuthenticator(p, "x")).toBe(false);
    const t = Buffer.from(raw);
    t[t.length - 1]! ^= 1;
    expect(verifyAccountingRequestAuthenticator(decodePacket(t), "s")).toBe(false);
  });

  it("matches MD5(Code+Id+Length+16 zeros+Attributes+Secret) without Message-Authenticator", () => {
    const raw = encodePacket({ code: 4, identifier: 2, attributes: [["Acct-Status-Type", "Start"]] });
    const auth = accountingRequestAuthenticator(raw, "s");
    const { raw: built } = encodeRequest({ code: 4, identifier: 2, secret: "s", attributes: [["Acct-Status-Type", "Start"]], messageAuthenticator: false });
    expect(built.subarray(4, 20).equals(auth)).toBe(true);
  });
});
