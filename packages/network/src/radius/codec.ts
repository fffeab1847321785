// RADIUS wire format (RFC 2865 section 3 and 5). Decoding never copies attribute values:
// they are views into the received datagram, so a packet costs one array and a few small
// objects. Encoding measures first and writes into a single buffer.
import {
  attributeByCode,
  attributeByName,
  KNOWN_VENDOR_IDS,
  VENDOR_SPECIFIC_TYPE,
  type AttributeDef,
} from "./dictionary";
import { decodeIpv6Prefix, encodeIpv6Prefix } from "./ipv6-prefix";

export const PacketCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
  StatusClient: 13,
  DisconnectRequest: 40,
  DisconnectAck: 41,
  DisconnectNak: 42,
  CoaRequest: 43,
  CoaAck: 44,
  CoaNak: 45,
} as const;
export type PacketCode = (typeof PacketCode)[keyof typeof PacketCode];

export function packetCodeName(code: number): string {
  for (const [name, value] of Object.entries(PacketCode)) if (value === code) return name;
  return `Unknown-${code}`;
}

export const HEADER_LENGTH = 20;
export const AUTHENTICATOR_LENGTH = 16;
/** RFC 2865 3: maximum packet length. */
export const PACKET_LENGTH_MAX = 4096;
/** Attribute value length limit (one octet length including the 2-octet header). */
export const ATTRIBUTE_VALUE_LENGTH_MAX = 253;
/** Message-Authenticator is encoded first, so its value always sits at this offset. */
export const MESSAGE_AUTHENTICATOR_VALUE_OFFSET = HEADER_LENGTH + 2;
const MESSAGE_AUTHENTICATOR_TYPE = 80;

export interface RawAttribute {
  /** 0 for standard attributes. */
  readonly vendorId: number;
  /** Attribute type, or the vendor-type inside a VSA. For an unparsed VSA of an unknown vendor: 26. */
  readonly type: number;
  /** A view into the packet buffer. */
  readonly value: Buffer;
}

export interface RadiusPacket {
  readonly code: number;
  readonly identifier: number;
  readonly authenticator: Buffer;
  readonly attributes: RawAttribute[];
  /** The packet bytes (trailing padding beyond the Length field removed). */
  readonly raw: Buffer;
  /** Offset in `raw` of the first Message-Authenticator value, or -1. */
  readonly messageAuthenticatorOffset: number;
}

export type DecodeErrorReason =
  | "too-short"
  | "length-field-invalid"
  | "truncated"
  | "attribute-header-truncated"
  | "attribute-length-invalid"
  | "attribute-overflow"
  | "vsa-truncated"
  | "vsa-sub-attribute-invalid"
  | "message-authenticator-length";

export class RadiusDecodeError extends Error {
  override readonly name = "RadiusDecodeError";
  constructor(
    readonly reason: DecodeErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export class RadiusEncodeError extends Error {
  override readonly name = "RadiusEncodeError";
}

/**
 * A decoded packet. Attributes are kept as offsets into `raw` (four numbers each in one
 * array), so decoding allocates two objects; `attributes` and `authenticator` are built
 * on first use, and the getters below read values straight from `raw`.
 */
class DecodedPacket implements RadiusPacket {
  private attributeList: RawAttribute[] | undefined;
  private authenticatorView: Buffer | undefined;
  constructor(
    readonly code: number,
    readonly identifier: number,
    readonly raw: Buffer,
    readonly messageAuthenticatorOffset: number,
    /** vendorId, type, value start, value end (offsets in raw), per attribute in wire order. */
    readonly table: number[],
  ) {}

  get authenticator(): Buffer {
    return (this.authenticatorView ??= this.raw.subarray(4, HEADER_LENGTH));
  }

  get attributes(): RawAttribute[] {
    if (!this.attributeList) {
      const t = this.table;
      const list: RawAttribute[] = [];
      for (let i = 0; i < t.length; i += 4) list.push({ vendorId: t[i]!, type: t[i + 1]!, value: this.raw.subarray(t[i + 2]!, t[i + 3]!) });
      this.attributeList = list;
    }
    return this.attributeList;
  }
}

export function decodePacket(buf: Buffer): RadiusPacket {
  if (buf.length < HEADER_LENGTH) throw new RadiusDecodeError("too-short", `packet of ${buf.length} bytes is shorter than ${HEADER_LENGTH}`);
  const length = buf.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > PACKET_LENGTH_MAX) {
    throw new RadiusDecodeError("length-field-invalid", `length field ${length} outside ${HEADER_LENGTH}..${PACKET_LENGTH_MAX}`);
  }
  // RFC 2865 3: shorter than Length is discarded, octets beyond Length are padding.
  if (buf.length < length) throw new RadiusDecodeError("truncated", `length field ${length} exceeds datagram of ${buf.length} bytes`);
  const raw = buf.length === length ? buf : buf.subarray(0, length);
  const table: number[] = [];
  let messageAuthenticatorOffset = -1;
  let pos = HEADER_LENGTH;
  while (pos < length) {
    if (pos + 2 > length) throw new RadiusDecodeError("attribute-header-truncated", `attribute header at ${pos} truncated`);
    const type = raw[pos]!;
    const attrLength = raw[pos + 1]!;
    if (attrLength < 2) throw new RadiusDecodeError("attribute-length-invalid", `attribute ${type} at ${pos} has length ${attrLength}`);
    const end = pos + attrLength;
    if (end > length) throw new RadiusDecodeError("attribute-overflow", `attribute ${type} at ${pos} overruns the packet`);
    if (type === VENDOR_SPECIFIC_TYPE) {
      decodeVsa(raw, pos, end, table);
    } else {
      if (type === MESSAGE_AUTHENTICATOR_TYPE) {
        if (attrLength !== 18) throw new RadiusDecodeError("message-authenticator-length", `Message-Authenticator of length ${attrLength}`);
        if (messageAuthenticatorOffset < 0) messageAuthenticatorOffset = pos + 2;
      }
      table.push(0, type, pos + 2, end);
    }
    pos = end;
  }
  return new DecodedPacket(raw[0]!, raw[1]!, raw, messageAuthenticatorOffset, table);
}

function decodeVsa(raw: Buffer, pos: number, end: number, out: number[]): void {
  // 2 header + 4 vendor id is the least a VSA can be.
  if (end - pos < 6) throw new RadiusDecodeError("vsa-truncated", `Vendor-Specific at ${pos} is shorter than 6 bytes`);
  const vendorId = raw.readUInt32BE(pos + 2);
  let sub = pos + 6;
  if (!KNOWN_VENDOR_IDS.has(vendorId)) {
    // Some vendors use other sub-attribute layouts (RFC 2865 5.26 only "should");
    // keep an unknown vendor's payload opaque rather than reject the packet.
    out.push(vendorId, VENDOR_SPECIFIC_TYPE, sub, end);
    return;
  }
  if (sub === end) throw new RadiusDecodeError("vsa-truncated", `Vendor-Specific of vendor ${vendorId} at ${pos} is empty`);
  while (sub < end) {
    if (sub + 2 > end) throw new RadiusDecodeError("vsa-truncated", `vendor sub-attribute header at ${sub} truncated`);
    const vendorType = raw[sub]!;
    const subLength = raw[sub + 1]!;
    if (subLength < 2 || sub + subLength > end) {
      throw new RadiusDecodeError("vsa-sub-attribute-invalid", `vendor ${vendorId} sub-attribute ${vendorType} at ${sub} has length ${subLength}`);
    }
    out.push(vendorId, vendorType, sub + 2, sub + subLength);
    sub += subLength;
  }
}

// ---------------------------------------------------------------- attribute getters

/** Where an attribute's value sits in `packet.raw`: [start, end), or undefined when absent. No allocation for decoded packets. */
export interface AttributeRange {
  start: number;
  end: number;
}

const rangeScratch: AttributeRange = { start: 0, end: 0 };

/**
 * The first attribute of this type (vendor 0: standard) as a range in packet.raw. The
 * returned object is shared and overwritten by the next call: read it at once.
 */
export function findAttribute(packet: RadiusPacket, type: number, vendorId: number): AttributeRange | undefined {
  if (packet instanceof DecodedPacket) {
    const t = packet.table;
    for (let i = 0; i < t.length; i += 4) {
      if (t[i + 1] === type && t[i] === vendorId) {
        rangeScratch.start = t[i + 2]!;
        rangeScratch.end = t[i + 3]!;
        return rangeScratch;
      }
    }
    return undefined;
  }
  for (const a of packet.attributes) {
    if (a.type === type && a.vendorId === vendorId) {
      // A packet not made by decodePacket: its values are views into raw.
      rangeScratch.start = a.value.byteOffset - packet.raw.byteOffset;
      rangeScratch.end = rangeScratch.start + a.value.length;
      return rangeScratch;
    }
  }
  return undefined;
}

function findDef(packet: RadiusPacket, name: string): AttributeRange | undefined {
  const def = defOf(name);
  return findAttribute(packet, def.code, def.vendorId);
}

function defOf(name: string): AttributeDef {
  const def = attributeByName(name);
  if (!def) throw new Error(`Unknown RADIUS attribute "${name}"`);
  return def;
}

export function hasAttribute(packet: RadiusPacket, name: string): boolean {
  return findDef(packet, name) !== undefined;
}

export function getBuffer(packet: RadiusPacket, name: string): Buffer | undefined {
  const r = findDef(packet, name);
  return r ? packet.raw.subarray(r.start, r.end) : undefined;
}

/** All values of a repeated attribute (Class, Proxy-State, Cisco-AVPair, ...), in order. */
export function getAllBuffers(packet: RadiusPacket, name: string): Buffer[] {
  const def = defOf(name);
  const out: Buffer[] = [];
  if (packet instanceof DecodedPacket) {
    const t = packet.table;
    for (let i = 0; i < t.length; i += 4) if (t[i + 1] === def.code && t[i] === def.vendorId) out.push(packet.raw.subarray(t[i + 2]!, t[i + 3]!));
    return out;
  }
  for (const a of packet.attributes) if (a.type === def.code && a.vendorId === def.vendorId) out.push(a.value);
  return out;
}

/** True when the packet has at least one attribute of this type (cheap; no allocation). */
export function hasAttributeCode(packet: RadiusPacket, type: number, vendorId = 0): boolean {
  return findAttribute(packet, type, vendorId) !== undefined;
}

export function getString(packet: RadiusPacket, name: string): string | undefined {
  const r = findDef(packet, name);
  return r ? packet.raw.toString("utf8", r.start, r.end) : undefined;
}

export function getAllStrings(packet: RadiusPacket, name: string): string[] {
  return getAllBuffers(packet, name).map((b) => b.toString("utf8"));
}

/** 32-bit unsigned integer (also enumerations and dates); undefined when absent or not 4 bytes. */
export function getInt(packet: RadiusPacket, name: string): number | undefined {
  const r = findDef(packet, name);
  return r && r.end - r.start === 4 ? packet.raw.readUInt32BE(r.start) : undefined;
}

export function getBigInt(packet: RadiusPacket, name: string): bigint | undefined {
  const r = findDef(packet, name);
  if (!r) return undefined;
  if (r.end - r.start === 8) return packet.raw.readBigUInt64BE(r.start);
  if (r.end - r.start === 4) return BigInt(packet.raw.readUInt32BE(r.start));
  return undefined;
}

export function getIp(packet: RadiusPacket, name: string): string | undefined {
  const r = findDef(packet, name);
  if (!r || r.end - r.start !== 4) return undefined;
  const v = packet.raw;
  const s = r.start;
  return `${v[s]}.${v[s + 1]}.${v[s + 2]}.${v[s + 3]}`;
}

/** An ipv6prefix attribute (Framed-IPv6-Prefix, Delegated-IPv6-Prefix) as "addr/len"; undefined when absent or malformed. */
export function getIpv6Prefix(packet: RadiusPacket, name: string): string | undefined {
  const r = findDef(packet, name);
  return r ? decodeIpv6Prefix(packet.raw.subarray(r.start, r.end)) : undefined;
}

export function getDate(packet: RadiusPacket, name: string): Date | undefined {
  const s = getInt(packet, name);
  return s === undefined ? undefined : new Date(s * 1000);
}

export type DecodedValue = string | number | bigint | Buffer | Date;

/** Value typed by the dictionary (enumerations stay numeric). */
export function decodeValue(def: AttributeDef, value: Buffer): DecodedValue {
  switch (def.type) {
    case "string":
      return value.toString("utf8");
    case "ipaddr":
      return value.length === 4 ? `${value[0]}.${value[1]}.${value[2]}.${value[3]}` : value;
    case "integer":
      return value.length === 4 ? value.readUInt32BE(0) : value;
    case "date":
      return value.length === 4 ? new Date(value.readUInt32BE(0) * 1000) : value;
    case "integer64":
      return value.length === 8 ? value.readBigUInt64BE(0) : value;
    case "octets":
      return value;
    case "ipv6prefix":
      return decodeIpv6Prefix(value) ?? value;
  }
}

/** Named view of all attributes, for logs and debugging (unknown attributes as "Attr-<vendor>-<type>"). */
export function describeAttributes(packet: RadiusPacket): Array<[string, DecodedValue]> {
  return packet.attributes.map((a) => {
    const def = attributeByCode(a.type, a.vendorId);
    if (!def) return [a.vendorId ? `Attr-${a.vendorId}-${a.type}` : `Attr-${a.type}`, a.value];
    return [def.name, decodeValue(def, a.value)];
  });
}

// ---------------------------------------------------------------- encoding

export type AttributeValue = string | number | bigint | Buffer | Date;
export type AttributeList = ReadonlyArray<readonly [name: string, value: AttributeValue]>;

export interface EncodeInput {
  code: number;
  identifier: number;
  /** 16 bytes; zeros when omitted (authenticators are filled in by ./auth). */
  authenticator?: Buffer;
  attributes: AttributeList;
  /** Reserve a zeroed Message-Authenticator as the first attribute (BlastRADIUS hardening). */
  messageAuthenticator?: boolean;
}

/** Parses dotted-quad IPv4 into a uint32, without allocating; throws on anything else. */
function ipv4Number(value: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else if (c === 46 && digits > 0 && part <= 255 && parts < 4) {
      n = n * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else throw new RadiusEncodeError(`"${value}" is not an IPv4 address`);
  }
  if (parts !== 4) throw new RadiusEncodeError(`"${value}" is not an IPv4 address`);
  return n;
}

function integerOf(def: AttributeDef, value: AttributeValue): number {
  let n: number;
  if (typeof value === "string") {
    const named = def.values?.[value];
    if (named === undefined) throw new RadiusEncodeError(`"${value}" is not a value of ${def.name}`);
    n = named;
  } else if (typeof value === "bigint") n = Number(value);
  else if (value instanceof Date) n = Math.floor(value.getTime() / 1000);
  else if (typeof value === "number") n = value;
  else throw new RadiusEncodeError(`${def.name} needs an integer`);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RadiusEncodeError(`${def.name} value ${n} is not a uint32`);
  return n;
}

function valueLength(def: AttributeDef, value: AttributeValue): number {
  switch (def.type) {
    case "string":
    case "octets":
      if (Buffer.isBuffer(value)) return value.length;
      if (typeof value === "string") return Buffer.byteLength(value, "utf8");
      throw new RadiusEncodeError(`${def.name} needs a string or Buffer`);
    case "ipaddr":
      if (Buffer.isBuffer(value) && value.length !== 4) throw new RadiusEncodeError(`${def.name} needs 4 bytes`);
      return 4;
    case "integer":
    case "date":
      return 4;
    case "integer64":
      return 8;
    case "ipv6prefix":
      if (Buffer.isBuffer(value)) return value.length;
      if (typeof value === "string") return ipv6PrefixOf(def, value).length;
      throw new RadiusEncodeError(`${def.name} needs "address/length" or Buffer`);
  }
}

// The last prefix encoded by valueLength, reused by writeValue (encoding is synchronous).
let lastPrefixText = "";
let lastPrefixBytes: Buffer = Buffer.alloc(0);

function ipv6PrefixOf(def: AttributeDef, text: string): Buffer {
  if (text === lastPrefixText) return lastPrefixBytes;
  try {
    lastPrefixBytes = encodeIpv6Prefix(text);
    lastPrefixText = text;
    return lastPrefixBytes;
  } catch (err) {
    throw new RadiusEncodeError(`${def.name}: ${(err as Error).message}`);
  }
}

function writeValue(def: AttributeDef, value: AttributeValue, out: Buffer, offset: number): void {
  switch (def.type) {
    case "string":
    case "octets":
      if (Buffer.isBuffer(value)) value.copy(out, offset);
      else out.write(value as string, offset, "utf8");
      return;
    case "ipaddr":
      if (Buffer.isBuffer(value)) value.copy(out, offset);
      else if (typeof value === "number") out.writeUInt32BE(value >>> 0, offset);
      else if (typeof value === "string") out.writeUInt32BE(ipv4Number(value), offset);
      else throw new RadiusEncodeError(`${def.name} needs an IPv4 address`);
      return;
    case "integer":
    case "date":
      out.writeUInt32BE(integerOf(def, value), offset);
      return;
    case "integer64": {
      const n = typeof value === "bigint" ? value : typeof value === "number" ? BigInt(value) : NaN;
      if (typeof n !== "bigint" || n < 0n || n > 0xffffffffffffffffn) throw new RadiusEncodeError(`${def.name} needs a uint64`);
      out.writeBigUInt64BE(n, offset);
      return;
    }
    case "ipv6prefix":
      (Buffer.isBuffer(value) ? value : ipv6PrefixOf(def, value as string)).copy(out, offset);
      return;
  }
}

// Scratch for encodePacketInto's measuring pass (encoding is synchronous, so one set is enough).
let scratchLengths: number[] = [];
let scratchDefs: AttributeDef[] = [];

const encodeScratch = Buffer.alloc(PACKET_LENGTH_MAX);

export function encodePacket(input: EncodeInput): Buffer {
  const length = encodePacketInto(input, encodeScratch);
  return Buffer.from(encodeScratch.subarray(0, length));
}

/**
 * Encodes into `out` (at least PACKET_LENGTH_MAX bytes, or the packet's length) and returns
 * the packet length. Every byte up to that length is written (zeros where nothing is set).
 */
export function encodePacketInto(input: EncodeInput, out: Buffer): number {
  const attrs = input.attributes;
  // First pass: validate and measure, so nothing is written for an invalid packet.
  if (scratchLengths.length < attrs.length) {
    scratchLengths = new Array<number>(attrs.length * 2).fill(0);
    scratchDefs = new Array<AttributeDef>(attrs.length * 2);
  }
  const lengths = scratchLengths;
  const defs = scratchDefs;
  let total = HEADER_LENGTH + (input.messageAuthenticator ? 18 : 0);
  for (let i = 0; i < attrs.length; i++) {
    const attr = attrs[i]!;
    const name = attr[0];
    const def = attributeByName(name);
    if (!def) throw new RadiusEncodeError(`Unknown RADIUS attribute "${name}"`);
    const len = valueLength(def, attr[1]);
    const overhead = def.vendorId ? 8 : 2;
    if (len + overhead > 255) throw new RadiusEncodeError(`${name} value of ${len} bytes is too long`);
    defs[i] = def;
    lengths[i] = len;
    total += len + overhead;
  }
  if (total > PACKET_LENGTH_MAX) throw new RadiusEncodeError(`packet of ${total} bytes exceeds ${PACKET_LENGTH_MAX}`);
  if (out.length < total) throw new RadiusEncodeError(`output buffer of ${out.length} bytes is shorter than the packet (${total})`);
  if (input.authenticator && input.authenticator.length !== AUTHENTICATOR_LENGTH) throw new RadiusEncodeError("authenticator must be 16 bytes");
  out[0] = input.code;
  out[1] = input.identifier & 0xff;
  out.writeUInt16BE(total, 2);
  if (input.authenticator) input.authenticator.copy(out, 4);
  else out.fill(0, 4, HEADER_LENGTH);
  let pos = HEADER_LENGTH;
  if (input.messageAuthenticator) {
    out[pos] = MESSAGE_AUTHENTICATOR_TYPE;
    out[pos + 1] = 18;
    out.fill(0, pos + 2, pos + 18);
    pos += 18;
  }
  for (let i = 0; i < attrs.length; i++) {
    const def = defs[i]!;
    const len = lengths[i]!;
    if (def.vendorId) {
      out[pos] = VENDOR_SPECIFIC_TYPE;
      out[pos + 1] = len + 8;
      out.writeUInt32BE(def.vendorId, pos + 2);
      out[pos + 6] = def.code;
      out[pos + 7] = len + 2;
      writeValue(def, attrs[i]![1], out, pos + 8);
      pos += len + 8;
    } else {
      out[pos] = def.code;
      out[pos + 1] = len + 2;
      writeValue(def, attrs[i]![1], out, pos + 2);
      pos += len + 2;
    }
  }
  return total;
}
