// MS-CHAPv2 (RFC 2759) verification for the RADIUS server, MPPE key derivation
// (RFC 3079, 128-bit keys) and the MS-MPPE-Send/Recv-Key attribute hiding of RFC 2548.
//
// MD4 and DES are written out here because Node 20's OpenSSL 3 only ships them in the
// legacy provider, which is not loaded by default: createHash("md4") and
// createCipheriv("des-ecb") throw "unsupported". Both are used only as MS-CHAPv2 demands
// (one MD4 per password, three DES blocks per login), so speed does not matter.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { AUTHENTICATOR_LENGTH, type AttributeList } from "./codec";

// ---------------------------------------------------------------- MD4 (RFC 1320)

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

export function md4(input: Buffer): Buffer {
  // Padding as RFC 1320 3.1/3.2: 0x80, zeros to 56 mod 64, then the bit length little-endian.
  const paddedLength = Math.ceil((input.length + 9) / 64) * 64;
  const msg = Buffer.alloc(paddedLength);
  input.copy(msg);
  msg[input.length] = 0x80;
  const bitLength = BigInt(input.length) * 8n;
  msg.writeBigUInt64LE(bitLength & 0xffffffffffffffffn, paddedLength - 8);

  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const x = new Array<number>(16);
  const f = (p: number, q: number, r: number): number => (p & q) | (~p & r);
  const g = (p: number, q: number, r: number): number => (p & q) | (p & r) | (q & r);
  const h = (p: number, q: number, r: number): number => p ^ q ^ r;
  const round2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
  const round3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];

  for (let block = 0; block < paddedLength; block += 64) {
    for (let i = 0; i < 16; i++) x[i] = msg.readUInt32LE(block + i * 4);
    const [aa, bb, cc, dd] = [a, b, c, d];
    const shifts1 = [3, 7, 11, 19];
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + f(b, c, d) + x[i]!) | 0, shifts1[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    const shifts2 = [3, 5, 9, 13];
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + g(b, c, d) + x[round2[i]!]! + 0x5a827999) | 0, shifts2[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    const shifts3 = [3, 9, 11, 15];
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + h(b, c, d) + x[round3[i]!]! + 0x6ed9eba1) | 0, shifts3[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = Buffer.alloc(16);
  out.writeInt32LE(a, 0);
  out.writeInt32LE(b, 4);
  out.writeInt32LE(c, 8);
  out.writeInt32LE(d, 12);
  return out;
}

// ---------------------------------------------------------------- DES (FIPS 46-3), encrypt only

// Tables are 1-based bit positions, MSB first, exactly as printed in FIPS 46-3.
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const FP = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
  36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, 34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
const E = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18, 19, 20, 21, 20, 21, 22, 23,
  24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
const P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25];
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36, 63, 55, 47, 39,
  31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52, 31, 37, 47, 55, 30, 40, 51,
  45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const KEY_SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
const SBOX = [
  [
    14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8, 4, 1, 14, 8, 13,
    6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
  ],
  [
    15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5, 0, 14, 7, 11,
    10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
  ],
  [
    10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1, 13, 6, 4, 9, 8,
    15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
  ],
  [
    7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9, 10, 6, 9, 0, 12,
    11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
  ],
  [
    2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6, 4, 2, 1, 11, 10,
    13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
  ],
  [
    12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8, 9, 14, 15, 5, 2,
    8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
  ],
  [
    4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6, 1, 4, 11, 13, 12,
    3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
  ],
  [
    13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2, 7, 11, 4, 1, 9,
    12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
  ],
];

// Bits are kept as 0/1 arrays: this runs three times per login, and the table-driven
// form can be checked against the standard line by line.
function toBits(bytes: Buffer): number[] {
  const bits: number[] = [];
  for (const byte of bytes) for (let i = 7; i >= 0; i--) bits.push((byte >> i) & 1);
  return bits;
}

function permute(bits: readonly number[], table: readonly number[]): number[] {
  return table.map((pos) => bits[pos - 1]!);
}

export class MsChapError extends Error {
  constructor(
    readonly code: "bad-length" | "bad-salt",
    message: string,
  ) {
    super(message);
    this.name = "MsChapError";
  }
}

function requireLength(name: string, value: Buffer, length: number): void {
  if (value.length !== length) throw new MsChapError("bad-length", `${name} must be ${length} bytes, got ${value.length}`);
}

/** DES-ECB encryption of one 8-byte block with an 8-byte key (parity bits ignored, as DES does). */
export function desEncryptBlock(key: Buffer, block: Buffer): Buffer {
  requireLength("DES key", key, 8);
  requireLength("DES block", block, 8);
  const cd = permute(toBits(key), PC1);
  let c = cd.slice(0, 28);
  let d = cd.slice(28);
  const subkeys: number[][] = [];
  for (const shift of KEY_SHIFTS) {
    c = [...c.slice(shift), ...c.slice(0, shift)];
    d = [...d.slice(shift), ...d.slice(0, shift)];
    subkeys.push(permute([...c, ...d], PC2));
  }

  const ip = permute(toBits(block), IP);
  let l = ip.slice(0, 32);
  let r = ip.slice(32);
  for (const k of subkeys) {
    const x = permute(r, E).map((bit, i) => bit ^ k[i]!);
    const s: number[] = [];
    for (let box = 0; box < 8; box++) {
      const six = x.slice(box * 6, box * 6 + 6);
      const row = (six[0]! << 1) | six[5]!;
      const col = (six[1]! << 3) | (six[2]! << 2) | (six[3]! << 1) | six[4]!;
      const v = SBOX[box]![row * 16 + col]!;
      for (let i = 3; i >= 0; i--) s.push((v >> i) & 1);
    }
    const fOut = permute(s, P);
    [l, r] = [r, l.map((bit, i) => bit ^ fOut[i]!)];
  }
  const bits = permute([...r, ...l], FP);
  const out = Buffer.alloc(8);
  for (let i = 0; i < 64; i++) out[i >> 3]! |= bits[i]! << (7 - (i & 7));
  return out;
}

/** Spreads 56 key bits over 8 bytes, leaving the (ignored) parity bit of each byte at zero. */
function desKeyFrom7(key7: Buffer): Buffer {
  const bits = toBits(key7);
  const out = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) {
    let v = 0;
    for (let j = 0; j < 7; j++) v = (v << 1) | bits[i * 7 + j]!;
    out[i] = v << 1;
  }
  return out;
}

// ---------------------------------------------------------------- MS-CHAPv2 (RFC 2759)

export const MSCHAP2_RESPONSE_LENGTH = 50;
export const AUTHENTICATOR_CHALLENGE_LENGTH = 16;
export const PEER_CHALLENGE_LENGTH = 16;
export const NT_RESPONSE_LENGTH = 24;
/** RFC 2759 8.2 limits the password to 256 Unicode characters. */
export const PASSWORD_LENGTH_MAX = 256;

const sha1 = (...parts: Buffer[]): Buffer => {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest();
};

// RFC 2759 8.7.
const AUTH_MAGIC1 = Buffer.from("Magic server to client signing constant", "ascii");
const AUTH_MAGIC2 = Buffer.from("Pad to make it do more than one iteration", "ascii");

/** RFC 2759 8.3: MD4 of the password as UTF-16LE ("Unicode" in the RFC). */
export function ntPasswordHash(password: string): Buffer {
  return md4(Buffer.from(password, "utf16le"));
}

/** RFC 2759 8.4. */
export function hashNtPasswordHash(passwordHash: Buffer): Buffer {
  return md4(passwordHash);
}

/**
 * RFC 2759 8.2: the peer hashes its user name without any "DOMAIN\" prefix, so a
 * User-Name of "CORP\ali" must hash as "ali" or every Windows login fails.
 */
function userNameForHash(username: string): Buffer {
  const slash = username.lastIndexOf("\\");
  return Buffer.from(slash >= 0 ? username.slice(slash + 1) : username, "utf8");
}

/** RFC 2759 8.2: first 8 bytes of SHA1(PeerChallenge | AuthenticatorChallenge | UserName). */
export function challengeHash(peerChallenge: Buffer, authenticatorChallenge: Buffer, username: string): Buffer {
  requireLength("PeerChallenge", peerChallenge, PEER_CHALLENGE_LENGTH);
  requireLength("AuthenticatorChallenge", authenticatorChallenge, AUTHENTICATOR_CHALLENGE_LENGTH);
  return sha1(peerChallenge, authenticatorChallenge, userNameForHash(username)).subarray(0, 8);
}

/** RFC 2759 8.5: the hash, zero-padded to 21 bytes, is three DES keys over the challenge. */
export function challengeResponse(challenge: Buffer, passwordHash: Buffer): Buffer {
  requireLength("Challenge", challenge, 8);
  requireLength("PasswordHash", passwordHash, 16);
  const zHash = Buffer.alloc(21);
  passwordHash.copy(zHash);
  return Buffer.concat([0, 7, 14].map((at) => desEncryptBlock(desKeyFrom7(zHash.subarray(at, at + 7)), challenge)));
}

/** RFC 2759 8.1. */
export function generateNtResponse(authenticatorChallenge: Buffer, peerChallenge: Buffer, username: string, password: string): Buffer {
  return challengeResponse(challengeHash(peerChallenge, authenticatorChallenge, username), ntPasswordHash(password));
}

export interface AuthenticatorResponseInput {
  passwordHashHash: Buffer;
  ntResponse: Buffer;
  peerChallenge: Buffer;
  authenticatorChallenge: Buffer;
  username: string;
}

/** RFC 2759 8.7: "S=" and 40 upper-case hex digits, which the peer checks to authenticate us. */
export function generateAuthenticatorResponse(input: AuthenticatorResponseInput): string {
  requireLength("PasswordHashHash", input.passwordHashHash, 16);
  requireLength("NT-Response", input.ntResponse, NT_RESPONSE_LENGTH);
  const digest = sha1(input.passwordHashHash, input.ntResponse, AUTH_MAGIC1);
  const challenge = challengeHash(input.peerChallenge, input.authenticatorChallenge, input.username);
  return "S=" + sha1(digest, challenge, AUTH_MAGIC2).toString("hex").toUpperCase();
}

export interface VerifyMsChapV2Input {
  username: string;
  password: string;
  /** The MS-CHAP-Challenge attribute value (16 bytes). */
  authenticatorChallenge: Buffer;
  /** The MS-CHAP2-Response attribute value: ident, flags, peer challenge (16), reserved (8), NT-Response (24). */
  response: Buffer;
}

export type VerifyMsChapV2FailureReason = "malformed-response" | "bad-challenge" | "password-too-long" | "wrong-password";

export type VerifyMsChapV2Result =
  | {
      ok: true;
      /** MS-CHAP2-Success value: the response's ident, then the authenticator response. */
      successAttribute: Buffer;
      /** Inputs to mppeKeyAttributes, so the password is not hashed twice. */
      ntResponse: Buffer;
      passwordHashHash: Buffer;
    }
  | { ok: false; reason: VerifyMsChapV2FailureReason };

/** Checks an MS-CHAP2-Response; never throws on what a NAS or peer sent. */
export function verifyMsChapV2(input: VerifyMsChapV2Input): VerifyMsChapV2Result {
  const { response, authenticatorChallenge } = input;
  if (!Buffer.isBuffer(response) || response.length !== MSCHAP2_RESPONSE_LENGTH) return { ok: false, reason: "malformed-response" };
  if (!Buffer.isBuffer(authenticatorChallenge) || authenticatorChallenge.length !== AUTHENTICATOR_CHALLENGE_LENGTH) {
    return { ok: false, reason: "bad-challenge" };
  }
  if (input.password.length > PASSWORD_LENGTH_MAX) return { ok: false, reason: "password-too-long" };

  const ident = response[0]!;
  const peerChallenge = response.subarray(2, 18);
  const ntResponse = Buffer.from(response.subarray(26, 50));
  const passwordHash = ntPasswordHash(input.password);
  const expected = challengeResponse(challengeHash(peerChallenge, authenticatorChallenge, input.username), passwordHash);
  if (!timingSafeEqual(expected, ntResponse)) return { ok: false, reason: "wrong-password" };

  const passwordHashHash = hashNtPasswordHash(passwordHash);
  const authResponse = generateAuthenticatorResponse({
    passwordHashHash,
    ntResponse,
    peerChallenge,
    authenticatorChallenge,
    username: input.username,
  });
  return {
    ok: true,
    successAttribute: Buffer.concat([Buffer.from([ident]), Buffer.from(authResponse, "ascii")]),
    ntResponse,
    passwordHashHash,
  };
}

// ---------------------------------------------------------------- MS-CHAPv1 (RFC 2433)

export const MSCHAP1_RESPONSE_LENGTH = 50;
export const MSCHAP1_CHALLENGE_LENGTH = 8;

/**
 * Checks an MS-CHAP-Response (RFC 2548 2.1.3: ident, flags, LM-Response (24), NT-Response (24))
 * against an 8-byte MS-CHAP-Challenge, NT-Response only (flags bit 0 set; LM hashes are
 * refused). Never throws on what a NAS sent.
 */
export function verifyMsChapV1(input: { password: string; challenge: Buffer; response: Buffer }): boolean {
  const { response, challenge } = input;
  if (!Buffer.isBuffer(response) || response.length !== MSCHAP1_RESPONSE_LENGTH) return false;
  if (!Buffer.isBuffer(challenge) || challenge.length !== MSCHAP1_CHALLENGE_LENGTH) return false;
  if ((response[1]! & 0x01) === 0 || input.password.length > PASSWORD_LENGTH_MAX) return false;
  const expected = challengeResponse(challenge, ntPasswordHash(input.password));
  return timingSafeEqual(expected, response.subarray(26, 50));
}

// ---------------------------------------------------------------- MPPE keys (RFC 3079)

export const MPPE_KEY_LENGTH = 16;

// RFC 3079 3.4.
const MPPE_MAGIC1 = Buffer.from("This is the MPPE Master Key", "ascii");
const MPPE_MAGIC2 = Buffer.from("On the client side, this is the send key; on the server side, it is the receive key.", "ascii");
const MPPE_MAGIC3 = Buffer.from("On the client side, this is the receive key; on the server side, it is the send key.", "ascii");
const SHS_PAD1 = Buffer.alloc(40, 0x00);
const SHS_PAD2 = Buffer.alloc(40, 0xf2);

/** RFC 3079 3.4 GetMasterKey. */
export function getMasterKey(passwordHashHash: Buffer, ntResponse: Buffer): Buffer {
  requireLength("PasswordHashHash", passwordHashHash, 16);
  requireLength("NT-Response", ntResponse, NT_RESPONSE_LENGTH);
  return sha1(passwordHashHash, ntResponse, MPPE_MAGIC1).subarray(0, 16);
}

/** RFC 3079 3.4 GetAsymmetricStartKey, for 128-bit keys. */
export function getAsymmetricStartKey(masterKey: Buffer, isSend: boolean, isServer: boolean): Buffer {
  requireLength("MasterKey", masterKey, 16);
  const magic = isSend === isServer ? MPPE_MAGIC3 : MPPE_MAGIC2;
  return sha1(masterKey, SHS_PAD1, magic, SHS_PAD2).subarray(0, MPPE_KEY_LENGTH);
}

// ---------------------------------------------------------------- MS-MPPE-*-Key hiding (RFC 2548 2.4.2)

const SALT_LENGTH = 2;

/**
 * Hides a key as RFC 2548 2.4.2: salt (high bit set), then the length-prefixed, zero-padded
 * key XORed with an MD5 chain seeded by secret, Request Authenticator and salt.
 */
export function encryptMppeKey(key: Buffer, secret: string | Buffer, requestAuthenticator: Buffer, salt: Buffer): Buffer {
  requireLength("Request Authenticator", requestAuthenticator, AUTHENTICATOR_LENGTH);
  requireLength("Salt", salt, SALT_LENGTH);
  if ((salt[0]! & 0x80) === 0) throw new MsChapError("bad-salt", "salt must have its high bit set (RFC 2548 2.4.2)");
  if (key.length > 255) throw new MsChapError("bad-length", "MPPE key longer than 255 bytes");
  const plain = Buffer.alloc(Math.ceil((key.length + 1) / 16) * 16);
  plain[0] = key.length;
  key.copy(plain, 1);
  const out = Buffer.alloc(plain.length);
  let prev: Buffer = Buffer.concat([requestAuthenticator, salt]);
  for (let at = 0; at < plain.length; at += 16) {
    const b = createHash("md5").update(secret).update(prev).digest();
    for (let i = 0; i < 16; i++) out[at + i] = plain[at + i]! ^ b[i]!;
    prev = out.subarray(at, at + 16);
  }
  return Buffer.concat([salt, out]);
}

/** Inverse of encryptMppeKey; undefined when the value cannot be a hidden key. */
export function decryptMppeKey(value: Buffer, secret: string | Buffer, requestAuthenticator: Buffer): Buffer | undefined {
  if (requestAuthenticator.length !== AUTHENTICATOR_LENGTH) return undefined;
  const body = value.subarray(SALT_LENGTH);
  if (value.length < SALT_LENGTH + 16 || body.length % 16 !== 0) return undefined;
  const plain = Buffer.alloc(body.length);
  let prev: Buffer = Buffer.concat([requestAuthenticator, value.subarray(0, SALT_LENGTH)]);
  for (let at = 0; at < body.length; at += 16) {
    const b = createHash("md5").update(secret).update(prev).digest();
    for (let i = 0; i < 16; i++) plain[at + i] = body[at + i]! ^ b[i]!;
    prev = body.subarray(at, at + 16);
  }
  const length = plain[0]!;
  if (length + 1 > plain.length) return undefined;
  return plain.subarray(1, 1 + length);
}

export interface MppeKeyAttributesInput {
  secret: string | Buffer;
  /** Authenticator of the Access-Request being answered. */
  requestAuthenticator: Buffer;
  passwordHashHash: Buffer;
  ntResponse: Buffer;
  /** Two distinct salts with the high bit set; random when omitted (tests pass fixed ones). */
  salts?: { send: Buffer; recv: Buffer };
}

function randomSalts(): { send: Buffer; recv: Buffer } {
  const send = randomBytes(SALT_LENGTH);
  send[0]! |= 0x80;
  const recv = Buffer.from(send);
  // RFC 2548 2.4.2 requires each salt in a packet to be unique; flipping one bit guarantees it.
  recv[1]! ^= 0x01;
  return { send, recv };
}

/**
 * MS-MPPE-Send-Key and MS-MPPE-Recv-Key for an Access-Accept, from the NAS's (server's)
 * side: Send-Key encrypts NAS-to-peer traffic (RFC 2548 2.4.2, RFC 3079 3.4).
 */
export function mppeKeyAttributes(input: MppeKeyAttributesInput): AttributeList {
  const salts = input.salts ?? randomSalts();
  if (salts.send.equals(salts.recv)) throw new MsChapError("bad-salt", "MPPE salts must differ (RFC 2548 2.4.2)");
  const masterKey = getMasterKey(input.passwordHashHash, input.ntResponse);
  const sendKey = getAsymmetricStartKey(masterKey, true, true);
  const recvKey = getAsymmetricStartKey(masterKey, false, true);
  return [
    ["MS-MPPE-Send-Key", encryptMppeKey(sendKey, input.secret, input.requestAuthenticator, salts.send)],
    ["MS-MPPE-Recv-Key", encryptMppeKey(recvKey, input.secret, input.requestAuthenticator, salts.recv)],
  ];
}
