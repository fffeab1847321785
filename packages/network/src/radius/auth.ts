// RADIUS authentication primitives: User-Password hiding (RFC 2865 5.2), CHAP
// (RFC 2865 5.3 / RFC 1994), Message-Authenticator (RFC 3579 3.2, RFC 2869 5.14),
// Request/Response Authenticators (RFC 2865 3, RFC 2866 3, RFC 5176 2.3).
import { createHash, randomFillSync, timingSafeEqual } from "node:crypto";
import {
  AUTHENTICATOR_LENGTH,
  encodePacket,
  encodePacketInto,
  findAttribute,
  getBuffer,
  HEADER_LENGTH,
  MESSAGE_AUTHENTICATOR_VALUE_OFFSET,
  PacketCode,
  RadiusEncodeError,
  type AttributeList,
  type RadiusPacket,
} from "./codec";
import { equalBytes, HmacMd5, hmacMd5Key, Md5, secretBytes } from "./md5";

const ZERO16 = Buffer.alloc(AUTHENTICATOR_LENGTH);
/** RFC 2865 5.2: the hidden password is 16..128 octets. */
export const PAP_PASSWORD_LENGTH_MAX = 128;

// Hot-path contexts (pure TS, no allocation per packet); every use below is synchronous.
const md5 = new Md5();
const hmac = new HmacMd5();
const digest16 = Buffer.alloc(16);
const papScratch = Buffer.alloc(PAP_PASSWORD_LENGTH_MAX);

// ---------------------------------------------------------------- PAP

export function encryptUserPassword(password: string | Buffer, secret: string | Buffer, authenticator: Buffer): Buffer {
  const plain = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  if (plain.length > PAP_PASSWORD_LENGTH_MAX) throw new RadiusEncodeError(`password longer than ${PAP_PASSWORD_LENGTH_MAX} bytes`);
  const length = Math.max(16, Math.ceil(plain.length / 16) * 16);
  const out = Buffer.alloc(length);
  plain.copy(out);
  let prev = authenticator;
  for (let block = 0; block < length; block += 16) {
    const b = createHash("md5").update(secret).update(prev).digest();
    for (let i = 0; i < 16; i++) out[block + i]! ^= b[i]!;
    prev = out.subarray(block, block + 16);
  }
  return out;
}

/** Returns the password without its NUL padding, or undefined when the value cannot be a hidden password. */
export function decryptUserPassword(value: Buffer, secret: string | Buffer, authenticator: Buffer): Buffer | undefined {
  const end = decryptUserPasswordInto(value, 0, value.length, secret, authenticator, 0, papScratch);
  return end < 0 ? undefined : Buffer.from(papScratch.subarray(0, end));
}

/**
 * RFC 2865 5.2 reversed into `out` (at least 128 bytes): value = bytes[start..end), the
 * Request Authenticator = auth[authOff..authOff+16). Returns the length without the NUL
 * padding, or -1 when the value cannot be a hidden password. No allocation.
 */
function decryptUserPasswordInto(bytes: Uint8Array, start: number, end: number, secret: string | Buffer, auth: Uint8Array, authOff: number, out: Uint8Array): number {
  const length = end - start;
  if (length < 16 || length > PAP_PASSWORD_LENGTH_MAX || length % 16 !== 0) return -1;
  const key = secretBytes(secret);
  for (let block = 0; block < length; block += 16) {
    md5.reset().update(key);
    if (block === 0) md5.update(auth, authOff, authOff + 16);
    else md5.update(bytes, start + block - 16, start + block);
    md5.digestInto(digest16, 0);
    for (let i = 0; i < 16; i++) out[block + i] = bytes[start + block + i]! ^ digest16[i]!;
  }
  let n = length;
  while (n > 0 && out[n - 1] === 0) n--;
  return n;
}

/** The PAP password of an Access-Request as a string, or undefined (absent or malformed). */
export function papPassword(packet: RadiusPacket, secret: string): string | undefined {
  const a = findAttribute(packet, USER_PASSWORD_TYPE, 0);
  if (!a) return undefined;
  const n = decryptUserPasswordInto(packet.raw, a.start, a.end, secret, packet.raw, 4, papScratch);
  return n < 0 ? undefined : papScratch.toString("utf8", 0, n);
}

const USER_PASSWORD_TYPE = 2;

// ---------------------------------------------------------------- CHAP

export function chapResponse(chapId: number, password: string | Buffer, challenge: Buffer): Buffer {
  return createHash("md5")
    .update(Buffer.from([chapId & 0xff]))
    .update(password)
    .update(challenge)
    .digest();
}

/** CHAP-Password = ident (1) + response (16), value for an Access-Request. */
export function chapPassword(chapId: number, password: string | Buffer, challenge: Buffer): Buffer {
  const out = Buffer.allocUnsafe(17);
  out[0] = chapId & 0xff;
  chapResponse(chapId, password, challenge).copy(out, 1);
  return out;
}

/** Checks CHAP-Password against a known cleartext password; the challenge is CHAP-Challenge or else the Request Authenticator. */
export function verifyChap(packet: RadiusPacket, password: string | Buffer): boolean {
  const chap = getBuffer(packet, "CHAP-Password");
  if (!chap || chap.length !== 17) return false;
  const challenge = getBuffer(packet, "CHAP-Challenge") ?? packet.authenticator;
  const expected = chapResponse(chap[0]!, password, challenge);
  return timingSafeEqual(expected, chap.subarray(1));
}

// ---------------------------------------------------------------- Message-Authenticator

/**
 * HMAC-MD5 over the packet with the Message-Authenticator value zeroed and the
 * Authenticator field replaced by `authenticatorField` (Access-Request: its own;
 * accounting/CoA requests: zeros; responses: the request's). Fed in pieces to avoid a copy.
 */
export function computeMessageAuthenticator(raw: Buffer, valueOffset: number, authenticatorField: Buffer, secret: string | Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  messageAuthenticatorInto(raw, valueOffset, authenticatorField, secret, out, 0);
  return out;
}

function messageAuthenticatorInto(raw: Uint8Array, valueOffset: number, authenticatorField: Uint8Array, secret: string | Buffer, out: Uint8Array, outOffset: number): void {
  const length = (raw[2]! << 8) | raw[3]!;
  hmac
    .begin(hmacMd5Key(secret))
    .update(raw, 0, 4)
    .update(authenticatorField, 0, 16)
    .update(raw, HEADER_LENGTH, valueOffset)
    .update(ZERO16)
    .update(raw, valueOffset + 16, length)
    .digestInto(out, outOffset);
}

/** Which bytes stand in the Authenticator field while the Message-Authenticator is computed. */
function messageAuthenticatorField(code: number, own: Buffer, requestAuthenticator?: Buffer): Buffer {
  switch (code) {
    case PacketCode.AccessRequest:
    case PacketCode.StatusServer:
      return own;
    // RFC 3579 does not define it for Accounting-Response; FreeRADIUS (the reference
    // peer) computes it over a zeroed Authenticator, so we do too.
    case PacketCode.AccountingRequest:
    case PacketCode.DisconnectRequest:
    case PacketCode.CoaRequest:
    case PacketCode.AccountingResponse:
      return ZERO16;
    default:
      if (!requestAuthenticator) throw new Error("verifying a response's Message-Authenticator needs the request authenticator");
      return requestAuthenticator;
  }
}

/** True when the packet carries no Message-Authenticator or a correct one; see `hasValidMessageAuthenticator` to require it. */
export function verifyMessageAuthenticator(packet: RadiusPacket, secret: string | Buffer, requestAuthenticator?: Buffer): boolean {
  const off = packet.messageAuthenticatorOffset;
  if (off < 0) return true;
  const field = messageAuthenticatorField(packet.code, packet.authenticator, requestAuthenticator);
  messageAuthenticatorInto(packet.raw, off, field, secret, digest16, 0);
  return equalBytes(digest16, 0, packet.raw, off, 16);
}

export function hasValidMessageAuthenticator(packet: RadiusPacket, secret: string | Buffer, requestAuthenticator?: Buffer): boolean {
  return packet.messageAuthenticatorOffset >= 0 && verifyMessageAuthenticator(packet, secret, requestAuthenticator);
}

// ---------------------------------------------------------------- Request / Response Authenticators

/** MD5(Code+Identifier+Length + `authenticatorField` + Attributes + Secret). */
function md5Authenticator(raw: Buffer, authenticatorField: Buffer, secret: string | Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  md5AuthenticatorInto(raw, authenticatorField, secret, out, 0);
  return out;
}

function md5AuthenticatorInto(raw: Uint8Array, authenticatorField: Uint8Array, secret: string | Buffer, out: Uint8Array, outOffset: number): void {
  const length = (raw[2]! << 8) | raw[3]!;
  md5.reset().update(raw, 0, 4).update(authenticatorField, 0, 16).update(raw, HEADER_LENGTH, length).update(secretBytes(secret)).digestInto(out, outOffset);
}

/** Response Authenticator (RFC 2865 3) for an encoded response. */
export function responseAuthenticator(raw: Buffer, requestAuthenticator: Buffer, secret: string | Buffer): Buffer {
  return md5Authenticator(raw, requestAuthenticator, secret);
}

export function verifyResponseAuthenticator(raw: Buffer, requestAuthenticator: Buffer, secret: string | Buffer): boolean {
  if (raw.length < HEADER_LENGTH) return false;
  return timingSafeEqual(responseAuthenticator(raw, requestAuthenticator, secret), raw.subarray(4, HEADER_LENGTH));
}

/** Request Authenticator of Accounting-Request (RFC 2866 3) and CoA/Disconnect-Request (RFC 5176 2.3). */
export function accountingRequestAuthenticator(raw: Buffer, secret: string | Buffer): Buffer {
  return md5Authenticator(raw, ZERO16, secret);
}

export function verifyAccountingRequestAuthenticator(packet: RadiusPacket, secret: string | Buffer): boolean {
  md5AuthenticatorInto(packet.raw, ZERO16, secret, digest16, 0);
  return equalBytes(digest16, 0, packet.raw, 4, 16);
}

/** Request codes whose Authenticator is computed (not random) and must be verified. */
export function hasComputedRequestAuthenticator(code: number): boolean {
  return code === PacketCode.AccountingRequest || code === PacketCode.DisconnectRequest || code === PacketCode.CoaRequest;
}

// ---------------------------------------------------------------- whole-packet builders

export interface EncodeResponseInput {
  code: number;
  identifier: number;
  requestAuthenticator: Buffer;
  attributes: AttributeList;
  secret: string | Buffer;
  /** Default true: Message-Authenticator first in the reply (BlastRADIUS, CVE-2024-3596). */
  messageAuthenticator?: boolean;
  /** Code of the request answered; a Status-Server's Accounting-Response signs like an Access-Accept. */
  requestCode?: number;
}

export function encodeResponse(input: EncodeResponseInput): Buffer {
  const length = encodeResponseInto(input, responseScratch);
  return Buffer.from(responseScratch.subarray(0, length));
}

const responseScratch = Buffer.alloc(4096);

/**
 * encodeResponse into `out` (at least 4096 bytes, the RADIUS maximum); returns the length.
 * The server encodes every reply into one reused buffer this way.
 */
export function encodeResponseInto(input: EncodeResponseInput, out: Buffer): number {
  const withMa = input.messageAuthenticator !== false;
  const length = encodePacketInto(
    {
      code: input.code,
      identifier: input.identifier,
      authenticator: input.requestAuthenticator,
      attributes: input.attributes,
      messageAuthenticator: withMa,
    },
    out,
  );
  if (withMa) {
    const field =
      input.requestCode === PacketCode.StatusServer
        ? input.requestAuthenticator
        : messageAuthenticatorField(input.code, input.requestAuthenticator, input.requestAuthenticator);
    messageAuthenticatorInto(out, MESSAGE_AUTHENTICATOR_VALUE_OFFSET, field, input.secret, out, MESSAGE_AUTHENTICATOR_VALUE_OFFSET);
  }
  md5AuthenticatorInto(out, input.requestAuthenticator, input.secret, digest16, 0);
  digest16.copy(out, 4);
  return length;
}

export interface EncodeRequestInput {
  code: number;
  identifier: number;
  attributes: AttributeList;
  secret: string | Buffer;
  /** Access-Request only; random when omitted. */
  authenticator?: Buffer;
  /** Default true. */
  messageAuthenticator?: boolean;
}

/**
 * Encodes a request with a correct Authenticator. For Access-Request a string
 * User-Password is hidden with the (random) Request Authenticator.
 */
export function encodeRequest(input: EncodeRequestInput): { raw: Buffer; authenticator: Buffer } {
  const withMa = input.messageAuthenticator !== false;
  const isAccess = input.code === PacketCode.AccessRequest || input.code === PacketCode.StatusServer;
  let authenticator: Buffer = ZERO16;
  let attributes = input.attributes;
  if (isAccess) {
    authenticator = input.authenticator ?? randomFillSync(Buffer.allocUnsafe(AUTHENTICATOR_LENGTH));
    if (attributes.some(([n, v]) => n === "User-Password" && typeof v === "string")) {
      attributes = attributes.map(([n, v]) =>
        n === "User-Password" && typeof v === "string" ? (["User-Password", encryptUserPassword(v, input.secret, authenticator)] as const) : ([n, v] as const),
      );
    }
  }
  const raw = encodePacket({ code: input.code, identifier: input.identifier, authenticator, attributes, messageAuthenticator: withMa });
  if (withMa) computeMessageAuthenticator(raw, MESSAGE_AUTHENTICATOR_VALUE_OFFSET, authenticator, input.secret).copy(raw, MESSAGE_AUTHENTICATOR_VALUE_OFFSET);
  if (!isAccess) {
    authenticator = accountingRequestAuthenticator(raw, input.secret);
    authenticator.copy(raw, 4);
  }
  return { raw, authenticator: raw.subarray(4, HEADER_LENGTH) };
}
