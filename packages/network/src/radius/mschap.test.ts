import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodePacket, encodePacket, getBuffer, PacketCode } from "./codec";
import { attribute, VendorId } from "./dictionary";
import {
  challengeHash,
  challengeResponse,
  decryptMppeKey,
  desEncryptBlock,
  encryptMppeKey,
  generateAuthenticatorResponse,
  generateNtResponse,
  getAsymmetricStartKey,
  getMasterKey,
  hashNtPasswordHash,
  md4,
  MsChapError,
  mppeKeyAttributes,
  ntPasswordHash,
  verifyMsChapV1,
  verifyMsChapV2,
} from "./mschap";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

// RFC 2759 9.2, also the inputs of RFC 3079 3.5.
const rfc = {
  username: "User",
  password: "clientPass",
  authenticatorChallenge: hex("5B5D7C7D7B3F2F3E3C2C602132262628"),
  peerChallenge: hex("21402324255E262A28295F2B3A337C7E"),
  challenge: hex("D02E4386BCE91226"),
  ntResponse: hex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"),
  passwordHash: hex("44EBBA8D5312B8D611474411F56989AE"),
  passwordHashHash: hex("41C00C584BD2D91C4017A2A12FA59F3F"),
  authenticatorResponse: "S=407A5589115FD0D6209F510FE9C04566932CDA56",
  // RFC 3079 3.5.3.
  masterKey: hex("FDECE3717A8C838CB388E527AE3CDD31"),
  sendStartKey128: hex("8B7CDC149B993A1BA118CB153F56DCCB"),
};

/** The 50-byte MS-CHAP2-Response a peer would send for the RFC example. */
function rfcResponse(ident = 0x2a): Buffer {
  return Buffer.concat([Buffer.from([ident, 0]), rfc.peerChallenge, Buffer.alloc(8), rfc.ntResponse]);
}

describe("md4 (RFC 1320 A.5)", () => {
  it.each([
    ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
    ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
    ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
    ["message digest", "d9130a8164549fe818874806e1c7014b"],
    ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
    ["1234567890".repeat(8), "e33b4ddc9c38f2199c3e7b164fcc0536"],
  ])("md4(%j)", (input, expected) => {
    expect(md4(Buffer.from(input, "ascii")).toString("hex")).toBe(expected);
  });

  it.each([55, 56, 63, 64, 65, 119, 120])("pads a %i-byte message into the right number of blocks", (n) => {
    // Lengths around the 56/64 boundary take the one-block vs two-block padding paths;
    // they must differ from each other and be stable.
    const a = md4(Buffer.alloc(n, 0x61));
    expect(a).toHaveLength(16);
    expect(md4(Buffer.alloc(n, 0x61))).toEqual(a);
    expect(md4(Buffer.alloc(n + 1, 0x61))).not.toEqual(a);
  });
});

describe("desEncryptBlock", () => {
  it.each([
    // The worked example used in most DES texts (key 133457799BBCDFF1).
    ["133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"],
    // FIPS 81 / NBS validation: key 0123456789ABCDEF, "Now is t".
    ["0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"],
    // Parity bits are ignored: 0x01 bytes are the all-zero key.
    ["0101010101010101", "95F8A5E5DD31D900", "8000000000000000"],
  ])("key %s encrypts %s to %s", (key, plain, cipher) => {
    expect(desEncryptBlock(hex(key), hex(plain)).toString("hex").toUpperCase()).toBe(cipher);
  });

  it("rejects blocks that are not 8 bytes with a typed error", () => {
    expect(() => desEncryptBlock(Buffer.alloc(8), Buffer.alloc(7))).toThrow(MsChapError);
  });
});

describe("MS-CHAPv2 (RFC 2759 9.2)", () => {
  it("NtPasswordHash and HashNtPasswordHash", () => {
    expect(ntPasswordHash(rfc.password)).toEqual(rfc.passwordHash);
    expect(hashNtPasswordHash(rfc.passwordHash)).toEqual(rfc.passwordHashHash);
  });

  it("ChallengeHash", () => {
    expect(challengeHash(rfc.peerChallenge, rfc.authenticatorChallenge, rfc.username)).toEqual(rfc.challenge);
  });

  it("ChallengeHash ignores a DOMAIN\\ prefix, as the peer does", () => {
    expect(challengeHash(rfc.peerChallenge, rfc.authenticatorChallenge, "CORP\\User")).toEqual(rfc.challenge);
  });

  it("ChallengeResponse and GenerateNTResponse", () => {
    expect(challengeResponse(rfc.challenge, rfc.passwordHash)).toEqual(rfc.ntResponse);
    expect(generateNtResponse(rfc.authenticatorChallenge, rfc.peerChallenge, rfc.username, rfc.password)).toEqual(rfc.ntResponse);
  });

  it("GenerateAuthenticatorResponse", () => {
    expect(
      generateAuthenticatorResponse({
        passwordHashHash: rfc.passwordHashHash,
        ntResponse: rfc.ntResponse,
        peerChallenge: rfc.peerChallenge,
        authenticatorChallenge: rfc.authenticatorChallenge,
        username: rfc.username,
      }),
    ).toBe(rfc.authenticatorResponse);
  });

  it.each([
    ["peer challenge", () => challengeHash(Buffer.alloc(15), rfc.authenticatorChallenge, "u")],
    ["authenticator challenge", () => challengeHash(rfc.peerChallenge, Buffer.alloc(17), "u")],
    ["password hash", () => challengeResponse(rfc.challenge, Buffer.alloc(15))],
  ])("a wrong-length %s is a typed error", (_name, call) => {
    expect(call).toThrow(MsChapError);
  });
});

describe("verifyMsChapV2", () => {
  it("accepts the RFC example and returns MS-CHAP2-Success as ident + S=", () => {
    const result = verifyMsChapV2({
      username: rfc.username,
      password: rfc.password,
      authenticatorChallenge: rfc.authenticatorChallenge,
      response: rfcResponse(0x2a),
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.successAttribute).toEqual(Buffer.concat([Buffer.from([0x2a]), Buffer.from(rfc.authenticatorResponse, "ascii")]));
    expect(result.successAttribute).toHaveLength(43);
    expect(result.ntResponse).toEqual(rfc.ntResponse);
    expect(result.passwordHashHash).toEqual(rfc.passwordHashHash);
  });

  it.each([
    ["wrong password", { password: "clientpass" }, "wrong-password"],
    ["wrong user name", { username: "user" }, "wrong-password"],
    ["another challenge", { authenticatorChallenge: Buffer.alloc(16, 1) }, "wrong-password"],
    ["tampered NT-Response", { response: (() => { const r = rfcResponse(); r[49]! ^= 1; return r; })() }, "wrong-password"],
    ["short response", { response: rfcResponse().subarray(0, 49) }, "malformed-response"],
    ["empty response", { response: Buffer.alloc(0) }, "malformed-response"],
    ["long response", { response: Buffer.concat([rfcResponse(), Buffer.alloc(1)]) }, "malformed-response"],
    ["short challenge", { authenticatorChallenge: Buffer.alloc(8) }, "bad-challenge"],
    ["overlong password", { password: "x".repeat(257) }, "password-too-long"],
  ] as const)("%s fails without throwing", (_name, override, reason) => {
    const input = {
      username: rfc.username,
      password: rfc.password,
      authenticatorChallenge: rfc.authenticatorChallenge,
      response: rfcResponse(),
      ...override,
    };
    expect(verifyMsChapV2(input)).toEqual({ ok: false, reason });
  });

  it("round-trips a password with non-ASCII characters (UTF-16LE hashing)", () => {
    const password = "پاکستان-Ωmega";
    const nt = generateNtResponse(rfc.authenticatorChallenge, rfc.peerChallenge, "ali", password);
    const response = Buffer.concat([Buffer.from([7, 0]), rfc.peerChallenge, Buffer.alloc(8), nt]);
    expect(verifyMsChapV2({ username: "ali", password, authenticatorChallenge: rfc.authenticatorChallenge, response }).ok).toBe(true);
    expect(verifyMsChapV2({ username: "ali", password: "پاکستان-Omega", authenticatorChallenge: rfc.authenticatorChallenge, response }).ok).toBe(false);
  });
});

describe("MPPE keys (RFC 3079 3.5.3)", () => {
  it("GetMasterKey", () => {
    expect(getMasterKey(rfc.passwordHashHash, rfc.ntResponse)).toEqual(rfc.masterKey);
  });

  it("the server's send start key is the published one and equals the client's receive key", () => {
    expect(getAsymmetricStartKey(rfc.masterKey, true, true)).toEqual(rfc.sendStartKey128);
    expect(getAsymmetricStartKey(rfc.masterKey, false, false)).toEqual(rfc.sendStartKey128);
  });

  it("the server's receive key is the client's send key, and differs from the send key", () => {
    const serverRecv = getAsymmetricStartKey(rfc.masterKey, false, true);
    expect(serverRecv).toEqual(getAsymmetricStartKey(rfc.masterKey, true, false));
    expect(serverRecv).not.toEqual(rfc.sendStartKey128);
  });
});

describe("MS-MPPE-*-Key hiding (RFC 2548 2.4.2)", () => {
  const secret = "testing123";
  const requestAuthenticator = hex("0f403f9473978057bd83d5cb98f4227a");

  it("is salt + 32 bytes for a 16-byte key and decrypts back", () => {
    const salt = hex("8001");
    const value = encryptMppeKey(rfc.sendStartKey128, secret, requestAuthenticator, salt);
    expect(value).toHaveLength(34);
    expect(value.subarray(0, 2)).toEqual(salt);
    expect(decryptMppeKey(value, secret, requestAuthenticator)).toEqual(rfc.sendStartKey128);
  });

  it("first block is the length-prefixed key XOR MD5(secret | request authenticator | salt)", () => {
    const salt = hex("8a5c");
    const value = encryptMppeKey(rfc.sendStartKey128, secret, requestAuthenticator, salt);
    // b(1) computed independently of the implementation's loop.
    const b1 = createHash("md5").update(secret).update(requestAuthenticator).update(salt).digest();
    const firstPlain = Buffer.concat([Buffer.from([16]), rfc.sendStartKey128.subarray(0, 15)]);
    expect(Buffer.from(value.subarray(2, 18).map((byte, i) => byte ^ b1[i]!))).toEqual(firstPlain);
  });

  it("decrypting with the wrong secret does not give the key back", () => {
    const value = encryptMppeKey(rfc.sendStartKey128, secret, requestAuthenticator, hex("8001"));
    expect(decryptMppeKey(value, "wrong", requestAuthenticator)).not.toEqual(rfc.sendStartKey128);
  });

  it.each([
    ["too short", Buffer.alloc(10)],
    ["not a whole number of blocks", Buffer.alloc(2 + 20)],
  ])("decryptMppeKey of a value %s is undefined", (_name, value) => {
    expect(decryptMppeKey(value, secret, requestAuthenticator)).toBeUndefined();
  });

  it("a salt without its high bit is a typed error", () => {
    expect(() => encryptMppeKey(rfc.sendStartKey128, secret, requestAuthenticator, hex("0001"))).toThrow(MsChapError);
  });

  it("mppeKeyAttributes encodes into an Access-Accept and the NAS recovers both keys", () => {
    const attrs = mppeKeyAttributes({
      secret,
      requestAuthenticator,
      passwordHashHash: rfc.passwordHashHash,
      ntResponse: rfc.ntResponse,
    });
    const raw = encodePacket({ code: PacketCode.AccessAccept, identifier: 1, attributes: attrs });
    const packet = decodePacket(raw);
    const send = getBuffer(packet, "MS-MPPE-Send-Key");
    const recv = getBuffer(packet, "MS-MPPE-Recv-Key");
    expect(send).toBeDefined();
    expect(recv).toBeDefined();
    expect(send!.subarray(0, 2)).not.toEqual(recv!.subarray(0, 2));
    expect(send![0]! & 0x80).toBe(0x80);
    expect(decryptMppeKey(send!, secret, requestAuthenticator)).toEqual(rfc.sendStartKey128);
    expect(decryptMppeKey(recv!, secret, requestAuthenticator)).toEqual(getAsymmetricStartKey(rfc.masterKey, false, true));
  });

  it("mppeKeyAttributes refuses equal salts", () => {
    const salt = hex("8001");
    expect(() =>
      mppeKeyAttributes({ secret, requestAuthenticator, passwordHashHash: rfc.passwordHashHash, ntResponse: rfc.ntResponse, salts: { send: salt, recv: salt } }),
    ).toThrow(MsChapError);
  });
});

describe("dictionary entries for vendor 311", () => {
  it.each([
    ["MS-CHAP-Error", 2],
    ["MS-MPPE-Encryption-Policy", 7],
    ["MS-MPPE-Encryption-Types", 8],
    ["MS-CHAP-Challenge", 11],
    ["MS-MPPE-Send-Key", 16],
    ["MS-MPPE-Recv-Key", 17],
    ["MS-CHAP2-Response", 25],
    ["MS-CHAP2-Success", 26],
  ])("%s is vendor type %i", (name, code) => {
    expect(attribute(name)).toMatchObject({ vendorId: VendorId.Microsoft, code });
  });

  it("an Access-Request carrying MS-CHAPv2 attributes decodes and verifies", () => {
    const raw = encodePacket({
      code: PacketCode.AccessRequest,
      identifier: 9,
      authenticator: Buffer.alloc(16, 3),
      attributes: [
        ["User-Name", rfc.username],
        ["MS-CHAP-Challenge", rfc.authenticatorChallenge],
        ["MS-CHAP2-Response", rfcResponse(5)],
      ],
    });
    const packet = decodePacket(raw);
    const result = verifyMsChapV2({
      username: rfc.username,
      password: rfc.password,
      authenticatorChallenge: getBuffer(packet, "MS-CHAP-Challenge") ?? Buffer.alloc(0),
      response: getBuffer(packet, "MS-CHAP2-Response") ?? Buffer.alloc(0),
    });
    expect(result.ok && result.successAttribute.toString("latin1")).toBe("\x05" + rfc.authenticatorResponse);
  });
});

describe("MS-CHAPv1 (RFC 2433 B.2)", () => {
  // RFC 2433 appendix B.2: password "MyPw", challenge 102DB5DF085D3041.
  const challenge = Buffer.from("102DB5DF085D3041", "hex");
  const ntResponse = Buffer.from("4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61", "hex");
  const response = (nt: Buffer, flags = 1) => Buffer.concat([Buffer.from([1, flags]), Buffer.alloc(24), nt]);

  it("the RFC's NT-Response verifies; another password, an LM-only response or a short value does not", () => {
    expect(challengeResponse(challenge, ntPasswordHash("MyPw"))).toEqual(ntResponse);
    expect(verifyMsChapV1({ password: "MyPw", challenge, response: response(ntResponse) })).toBe(true);
    expect(verifyMsChapV1({ password: "mypw", challenge, response: response(ntResponse) })).toBe(false);
    expect(verifyMsChapV1({ password: "MyPw", challenge, response: response(ntResponse, 0) })).toBe(false);
    expect(verifyMsChapV1({ password: "MyPw", challenge, response: response(ntResponse).subarray(0, 49) })).toBe(false);
    expect(verifyMsChapV1({ password: "MyPw", challenge: Buffer.alloc(16), response: response(ntResponse) })).toBe(false);
  });
});
