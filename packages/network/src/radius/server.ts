// UDP RADIUS server core: authentication (1812) or accounting (1813). It decodes,
// authenticates the NAS, hands a typed request to an injected handler and encodes the
// reply. Bad input never reaches the handler: it is a counted drop with a throttled log.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { setReceiveBuffer, SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT } from "./client";
import {
  hasComputedRequestAuthenticator,
  encodeResponseInto,
  papPassword,
  verifyAccountingRequestAuthenticator,
  verifyChap,
  verifyMessageAuthenticator,
} from "./auth";
import { equalBytes } from "./md5";
import {
  decodePacket,
  getAllBuffers,
  getBigInt,
  getBuffer,
  getDate,
  getInt,
  getIp,
  getString,
  hasAttribute,
  PacketCode,
  packetCodeName,
  RadiusDecodeError,
  type AttributeList,
  type RadiusPacket,
} from "./codec";

export type RadiusServerKind = "auth" | "acct";

export interface RadiusRequest {
  readonly kind: RadiusServerKind;
  readonly packet: RadiusPacket;
  readonly code: number;
  readonly nasIp: string;
  readonly srcPort: number;
  readonly secret: string;
  /** performance.now() when the datagram arrived. */
  readonly receivedAt: number;
  getString(name: string): string | undefined;
  getInt(name: string): number | undefined;
  getIp(name: string): string | undefined;
  getBuffer(name: string): Buffer | undefined;
  getBigInt(name: string): bigint | undefined;
  getDate(name: string): Date | undefined;
  has(name: string): boolean;
  /** "pap" (User-Password), "chap" (CHAP-Password), "mschapv2" (MS-CHAP2-Response), "mschapv1" (MS-CHAP-Response), "eap" (EAP-Message) or "none". */
  readonly authMethod: "pap" | "chap" | "mschapv2" | "mschapv1" | "eap" | "none";
  /** Decrypted PAP password, undefined when absent or malformed. */
  papPassword(): string | undefined;
  /** Checks CHAP-Password against the subscriber's cleartext password. */
  verifyChap(password: string): boolean;
}

export interface RadiusReply {
  code: number;
  attributes?: AttributeList;
}

/** Return null to drop silently (e.g. the accounting store is full: the NAS retransmits). */
export type RadiusHandler = (request: RadiusRequest) => RadiusReply | null | Promise<RadiusReply | null>;

export type DropReason =
  | "malformed"
  | "unknown-nas"
  | "bad-authenticator"
  | "missing-message-authenticator"
  | "proxy-state-without-message-authenticator"
  | "unexpected-code"
  | "overload"
  | "duplicate-in-flight"
  | "handler-error"
  | "encode-error"
  | "send-error";

export interface RadiusServerLogEvent {
  level: "warn" | "error";
  reason: DropReason;
  nasIp: string;
  srcPort: number;
  message: string;
  /** Events of this reason not logged in the previous window (throttling). */
  suppressed: number;
}

export interface RadiusServerCounters {
  received: number;
  replied: number;
  dropMalformed: number;
  dropUnknownNas: number;
  dropBadAuthenticator: number;
  dropMissingMessageAuthenticator: number;
  /** Access-Request with Proxy-State but no Message-Authenticator (BlastRADIUS). */
  dropProxyStateWithoutMessageAuthenticator: number;
  dropUnexpectedCode: number;
  dropOverload: number;
  dropDuplicateInFlight: number;
  /** Handler returned null. */
  dropByHandler: number;
  duplicatesResent: number;
  handlerErrors: number;
  encodeErrors: number;
  sendErrors: number;
}

export interface RadiusServerOptions {
  kind: RadiusServerKind;
  /** Default "0.0.0.0". */
  host?: string;
  /** 0 = ephemeral. */
  port: number;
  /** Shared secret of the NAS at this source address, or undefined for an unknown NAS. Called per packet: keep it a map lookup. */
  secretFor: (nasIp: string) => string | undefined;
  handler: RadiusHandler;
  log?: (event: RadiusServerLogEvent) => void;
  /** Handlers running at once; beyond it requests are dropped (the NAS retransmits). Default 4096. */
  inFlightMax?: number;
  /** Drop Access-Requests without Message-Authenticator (BlastRADIUS). Default false: many NAS do not send it yet. */
  requireMessageAuthenticator?: boolean;
  /** Per-NAS override of requireMessageAuthenticator (called after secretFor; keep it a map lookup). */
  requireMessageAuthenticatorFor?: (nasIp: string) => boolean;
  /**
   * Called for every drop of a request from a known NAS that a person may need to see
   * (authenticator and BlastRADIUS drops), with what the packet said. Must not throw or block.
   */
  onDrop?: (reason: DropReason, info: DroppedRequestInfo) => void;
  /** Retransmissions within this window get the cached reply instead of a second handler call. Default 5000. */
  duplicateCacheMs?: number;
  /** Entries in the duplicate cache; the oldest is evicted when full. Default 65536. */
  duplicateCacheEntriesMax?: number;
  /** Per drop reason, log at most this many events per window. Default 10. */
  logEventsPerWindowMax?: number;
  /** Default 10000. */
  logWindowMs?: number;
  /** stop() waits this long for running handlers before closing. Default 2000. */
  stopDrainMs?: number;
  /** SO_RCVBUF for bursts (a NAS reboot storm); capped by net.core.rmem_max. Default 4 MiB. */
  socketReceiveBufferBytes?: number;
}

export interface DroppedRequestInfo {
  nasIp: string;
  srcPort: number;
  code: number;
  /** User-Name and Calling-Station-Id as sent; unverified when the drop is about authenticity. */
  userName: string | undefined;
  callingStationId: string | undefined;
  authMethod: RadiusRequest["authMethod"];
}

export interface RadiusServer {
  readonly counters: RadiusServerCounters;
  /** Handlers currently running. */
  inFlight(): number;
  /** Resolves with the bound port (useful with port 0). */
  start(): Promise<number>;
  /** Bound address, or undefined before start(). */
  address(): { host: string; port: number } | undefined;
  stop(): Promise<void>;
}

/** Reply bytes kept per duplicate-cache entry in place; a longer reply is kept as its own Buffer. */
const DUPLICATE_REPLY_SLOT_BYTES = 256;
/** Slots per lazily allocated chunk of reply storage. */
const DUPLICATE_CHUNK_SLOTS = 1024;
/** Distinct NAS addresses with cache entries; beyond it the cache starts over (known NAS only reach it). */
const DUPLICATE_NAS_MAX = 65_536;

const enum SlotState {
  Empty = 0,
  InFlight = 1,
  Replied = 2,
  RepliedOverflow = 3,
}

const EXPECTED_CODES: Record<RadiusServerKind, ReadonlySet<number>> = {
  auth: new Set([PacketCode.AccessRequest, PacketCode.StatusServer]),
  acct: new Set([PacketCode.AccountingRequest, PacketCode.StatusServer]),
};

export function createRadiusServer(options: RadiusServerOptions): RadiusServer {
  const kind = options.kind;
  const host = options.host ?? "0.0.0.0";
  const inFlightMax = options.inFlightMax ?? 4096;
  const duplicateCacheMs = options.duplicateCacheMs ?? 5000;
  const duplicateCacheEntriesMax = options.duplicateCacheEntriesMax ?? 65536;
  const logEventsPerWindowMax = options.logEventsPerWindowMax ?? 10;
  const logWindowMs = options.logWindowMs ?? 10_000;
  const stopDrainMs = options.stopDrainMs ?? 2000;
  const counters: RadiusServerCounters = {
    received: 0,
    replied: 0,
    dropMalformed: 0,
    dropUnknownNas: 0,
    dropBadAuthenticator: 0,
    dropMissingMessageAuthenticator: 0,
    dropProxyStateWithoutMessageAuthenticator: 0,
    dropUnexpectedCode: 0,
    dropOverload: 0,
    dropDuplicateInFlight: 0,
    dropByHandler: 0,
    duplicatesResent: 0,
    handlerErrors: 0,
    encodeErrors: 0,
    sendErrors: 0,
  };
  let socket: Socket | undefined;
  let inFlight = 0;
  let stopping = false;
  // Duplicate cache (RFC 5080 2.2.2): a ring of duplicateCacheEntriesMax slots in typed
  // arrays, oldest overwritten first; per NAS address a Map from (source port, identifier)
  // as one small integer to the slot. An entry holds no per-request object: the request
  // authenticator is copied, the reply bytes live in a reused 256-byte slot. So nothing of a
  // request survives a scavenge just because it is cached for 5 s (docs/radius-auth.md).
  const dupCapacity = Math.max(1, Math.floor(duplicateCacheEntriesMax));
  const dupByNas = new Map<string, Map<number, number>>();
  const slotMap: Array<Map<number, number> | undefined> = new Array<Map<number, number> | undefined>(dupCapacity).fill(undefined);
  const slotKey = new Int32Array(dupCapacity);
  const slotGen = new Uint32Array(dupCapacity);
  const slotState = new Uint8Array(dupCapacity);
  const slotExpires = new Float64Array(dupCapacity);
  const slotAuth = new Uint8Array(dupCapacity * 16);
  const slotLen = new Uint16Array(dupCapacity);
  const slotOverflow: Array<Buffer | undefined> = new Array<Buffer | undefined>(dupCapacity).fill(undefined);
  const replyChunks: Array<Buffer | undefined> = [];
  let dupHead = 0;
  const replyScratch = Buffer.alloc(4096);
  const logWindows = new Map<DropReason, { startedAt: number; count: number; suppressed: number; suppressedBefore: number }>();

  function log(level: "warn" | "error", reason: DropReason, rinfo: RemoteInfo | undefined, message: string): void {
    if (!options.log) return;
    const now = Date.now();
    let w = logWindows.get(reason);
    if (!w || now - w.startedAt >= logWindowMs) {
      w = { startedAt: now, count: 0, suppressed: 0, suppressedBefore: w?.suppressed ?? 0 };
      logWindows.set(reason, w);
    }
    if (w.count >= logEventsPerWindowMax) {
      w.suppressed++;
      return;
    }
    w.count++;
    const suppressed = w.suppressedBefore;
    w.suppressedBefore = 0;
    try {
      options.log({ level, reason, nasIp: rinfo?.address ?? "", srcPort: rinfo?.port ?? 0, message: `radius ${kind}: ${message}`, suppressed });
    } catch {
      // A broken logger must not take the server down.
    }
  }

  function reportDrop(reason: DropReason, packet: RadiusPacket, rinfo: RemoteInfo): void {
    if (!options.onDrop) return;
    try {
      options.onDrop(reason, {
        nasIp: rinfo.address,
        srcPort: rinfo.port,
        code: packet.code,
        userName: getString(packet, "User-Name"),
        callingStationId: getString(packet, "Calling-Station-Id"),
        authMethod: authMethodOf(packet),
      });
    } catch {
      // A broken hook must not take the server down.
    }
  }

  function dupReset(): void {
    dupByNas.clear();
    slotMap.fill(undefined);
    slotOverflow.fill(undefined);
    slotState.fill(SlotState.Empty);
  }

  /** The live slot for this (NAS, port, identifier), or -1. */
  function dupFind(address: string, key: number): number {
    const slot = dupByNas.get(address)?.get(key);
    return slot === undefined ? -1 : slot;
  }

  /** Forgets the entry in `slot` if it still belongs to generation `gen`. */
  function dupForget(slot: number, gen: number): void {
    if (slotGen[slot] !== gen) return;
    const m = slotMap[slot];
    if (m && m.get(slotKey[slot]!) === slot) m.delete(slotKey[slot]!);
    slotMap[slot] = undefined;
    slotOverflow[slot] = undefined;
    slotState[slot] = SlotState.Empty;
  }

  /** A new in-flight entry; returns its slot (its generation is slotGen[slot]). */
  function dupInsert(address: string, key: number, raw: Buffer, expiresAt: number): number {
    let m = dupByNas.get(address);
    if (!m) {
      if (dupByNas.size >= DUPLICATE_NAS_MAX) dupReset();
      m = new Map();
      dupByNas.set(address, m);
    }
    const slot = dupHead;
    dupHead = dupHead + 1 === dupCapacity ? 0 : dupHead + 1;
    // The oldest entry (the slot's previous owner) is evicted.
    dupForget(slot, slotGen[slot]!);
    const previous = m.get(key);
    if (previous !== undefined && previous !== slot) {
      // Replaced below by m.set (an update in place: no delete and re-insert churning the Map).
      slotMap[previous] = undefined;
      slotOverflow[previous] = undefined;
      slotState[previous] = SlotState.Empty;
      slotGen[previous] = (slotGen[previous]! + 1) >>> 0;
    }
    slotGen[slot] = (slotGen[slot]! + 1) >>> 0;
    slotState[slot] = SlotState.InFlight;
    slotMap[slot] = m;
    slotKey[slot] = key;
    slotExpires[slot] = expiresAt;
    raw.copy(slotAuth, slot * 16, 4, 20);
    m.set(key, slot);
    return slot;
  }

  function replyChunk(slot: number): Buffer {
    const i = Math.floor(slot / DUPLICATE_CHUNK_SLOTS);
    let c = replyChunks[i];
    if (!c) {
      c = Buffer.alloc(DUPLICATE_CHUNK_SLOTS * DUPLICATE_REPLY_SLOT_BYTES);
      replyChunks[i] = c;
    }
    return c;
  }

  /** The cached reply of a replied slot (a view; the slot is reused only after the ring wraps). */
  function dupReply(slot: number): Buffer | undefined {
    if (slotState[slot] === SlotState.RepliedOverflow) return slotOverflow[slot];
    if (slotState[slot] !== SlotState.Replied) return undefined;
    const off = (slot % DUPLICATE_CHUNK_SLOTS) * DUPLICATE_REPLY_SLOT_BYTES;
    return replyChunk(slot).subarray(off, off + slotLen[slot]!);
  }

  // One callback for every send (no closure per reply); the error names no NAS.
  const afterSend = (err: Error | null): void => {
    if (err) {
      counters.sendErrors++;
      log("error", "send-error", undefined, `send failed: ${err.message}`);
    }
  };

  function send(buf: Buffer, rinfo: RemoteInfo): void {
    if (!socket) return;
    socket.send(buf, rinfo.port, rinfo.address, afterSend);
  }

  function onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (stopping) return;
    const receivedAt = performance.now();
    counters.received++;
    let packet: RadiusPacket;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      counters.dropMalformed++;
      const reason = err instanceof RadiusDecodeError ? err.reason : "unexpected";
      log("warn", "malformed", rinfo, `malformed packet (${reason}): ${(err as Error).message}`);
      return;
    }
    if (!EXPECTED_CODES[kind].has(packet.code)) {
      counters.dropUnexpectedCode++;
      log("warn", "unexpected-code", rinfo, `unexpected ${packetCodeName(packet.code)} on the ${kind} port`);
      return;
    }
    let secret: string | undefined;
    try {
      secret = options.secretFor(rinfo.address);
    } catch (err) {
      secret = undefined;
      log("error", "unknown-nas", rinfo, `secretFor threw: ${(err as Error).message}`);
    }
    if (secret === undefined) {
      counters.dropUnknownNas++;
      log("warn", "unknown-nas", rinfo, `request from unknown NAS ${rinfo.address}`);
      return;
    }
    if (packet.messageAuthenticatorOffset >= 0) {
      if (!verifyMessageAuthenticator(packet, secret)) {
        counters.dropBadAuthenticator++;
        log("warn", "bad-authenticator", rinfo, `bad Message-Authenticator (wrong shared secret?) id=${packet.identifier}`);
        reportDrop("bad-authenticator", packet, rinfo);
        return;
      }
    } else if (packet.code === PacketCode.AccessRequest && hasAttribute(packet, "Proxy-State")) {
      // BlastRADIUS (CVE-2024-3596) forges replies through attacker-chosen Proxy-State;
      // FreeRADIUS's limit_proxy_state: a request carrying it must be signed.
      counters.dropProxyStateWithoutMessageAuthenticator++;
      log("warn", "proxy-state-without-message-authenticator", rinfo, "Access-Request with Proxy-State but no Message-Authenticator");
      reportDrop("proxy-state-without-message-authenticator", packet, rinfo);
      return;
    } else if (
      packet.code === PacketCode.StatusServer ||
      (packet.code === PacketCode.AccessRequest &&
        ((options.requireMessageAuthenticatorFor?.(rinfo.address) ?? options.requireMessageAuthenticator) || hasAttribute(packet, "EAP-Message")))
    ) {
      // RFC 3579 3.2 (EAP) and RFC 5997 (Status-Server) make it mandatory.
      counters.dropMissingMessageAuthenticator++;
      log("warn", "missing-message-authenticator", rinfo, `${packetCodeName(packet.code)} without Message-Authenticator`);
      reportDrop("missing-message-authenticator", packet, rinfo);
      return;
    }
    if (hasComputedRequestAuthenticator(packet.code) && !verifyAccountingRequestAuthenticator(packet, secret)) {
      counters.dropBadAuthenticator++;
      log("warn", "bad-authenticator", rinfo, `bad Request Authenticator (wrong shared secret?) id=${packet.identifier}`);
      reportDrop("bad-authenticator", packet, rinfo);
      return;
    }

    const now = Date.now();
    const raw = packet.raw;
    const dupKey = rinfo.port * 256 + packet.identifier;
    const dupSlot = dupFind(rinfo.address, dupKey);
    if (dupSlot >= 0 && slotExpires[dupSlot]! > now && equalBytes(slotAuth, dupSlot * 16, raw, 4, 16)) {
      const reply = dupReply(dupSlot);
      if (reply) {
        counters.duplicatesResent++;
        send(reply, rinfo);
      } else {
        counters.dropDuplicateInFlight++;
      }
      return;
    }
    if (inFlight >= inFlightMax) {
      counters.dropOverload++;
      log("warn", "overload", rinfo, `${inFlight} requests in flight (inFlightMax ${inFlightMax}); dropped`);
      return;
    }
    const slot = dupInsert(rinfo.address, dupKey, raw, now + duplicateCacheMs);
    const gen = slotGen[slot]!;

    if (packet.code === PacketCode.StatusServer) {
      finish(packet, secret, rinfo, slot, gen, { code: kind === "auth" ? PacketCode.AccessAccept : PacketCode.AccountingResponse });
      return;
    }

    const request = new ServerRequest(kind, packet, rinfo, secret, receivedAt);
    inFlight++;
    let result: RadiusReply | null | Promise<RadiusReply | null>;
    try {
      result = options.handler(request);
    } catch (err) {
      inFlight--;
      handlerFailed(err, rinfo, slot, gen);
      return;
    }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<RadiusReply | null>).then(
        (reply) => {
          inFlight--;
          finish(packet, secret, rinfo, slot, gen, reply);
        },
        (err: unknown) => {
          inFlight--;
          handlerFailed(err, rinfo, slot, gen);
        },
      );
    } else {
      // A synchronous answer (the common Access-Accept from caches): no promise, no closure.
      inFlight--;
      finish(packet, secret, rinfo, slot, gen, result as RadiusReply | null);
    }
  }

  function handlerFailed(err: unknown, rinfo: RemoteInfo, slot: number, gen: number): void {
    counters.handlerErrors++;
    dupForget(slot, gen);
    log("error", "handler-error", rinfo, `handler failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  function finish(packet: RadiusPacket, secret: string, rinfo: RemoteInfo, slot: number, gen: number, reply: RadiusReply | null): void {
    if (!reply) {
      counters.dropByHandler++;
      dupForget(slot, gen);
      return;
    }
    let length: number;
    try {
      // RFC 2865 5.33: Proxy-State is echoed unmodified and in order.
      const proxyStates = hasAttribute(packet, "Proxy-State") ? getAllBuffers(packet, "Proxy-State") : undefined;
      const attributes: AttributeList = proxyStates
        ? [...(reply.attributes ?? []), ...proxyStates.map((v) => ["Proxy-State", v] as const)]
        : (reply.attributes ?? NO_ATTRIBUTES);
      length = encodeResponseInto(
        {
          code: reply.code,
          identifier: packet.identifier,
          requestAuthenticator: packet.authenticator,
          requestCode: packet.code,
          attributes,
          secret,
        },
        replyScratch,
      );
    } catch (err) {
      counters.encodeErrors++;
      dupForget(slot, gen);
      log("error", "encode-error", rinfo, `cannot encode reply: ${(err as Error).message}`);
      return;
    }
    let out: Buffer;
    if (slotGen[slot] === gen && slotState[slot] === SlotState.InFlight) {
      if (length <= DUPLICATE_REPLY_SLOT_BYTES) {
        const chunk = replyChunk(slot);
        const off = (slot % DUPLICATE_CHUNK_SLOTS) * DUPLICATE_REPLY_SLOT_BYTES;
        replyScratch.copy(chunk, off, 0, length);
        slotLen[slot] = length;
        slotState[slot] = SlotState.Replied;
        out = chunk.subarray(off, off + length);
      } else {
        out = Buffer.from(replyScratch.subarray(0, length));
        slotOverflow[slot] = out;
        slotState[slot] = SlotState.RepliedOverflow;
      }
    } else {
      // The entry was evicted meanwhile: send a copy the cache does not own.
      out = Buffer.from(replyScratch.subarray(0, length));
    }
    counters.replied++;
    send(out, rinfo);
  }

  return {
    counters,
    inFlight: () => inFlight,
    address() {
      if (!socket) return undefined;
      const a = socket.address();
      return { host: a.address, port: a.port };
    },
    start() {
      return new Promise((resolve, reject) => {
        const s = createSocket({ type: isIPv6(host) ? "udp6" : "udp4" });
        const onError = (err: Error) => reject(err);
        s.once("error", onError);
        s.on("message", onMessage);
        s.bind(options.port, host, () => {
          s.off("error", onError);
          setReceiveBuffer(s, options.socketReceiveBufferBytes ?? SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT);
          // After bind, socket errors (e.g. ICMP unreachable on send) are not fatal.
          s.on("error", () => {
            counters.sendErrors++;
          });
          socket = s;
          stopping = false;
          resolve(s.address().port);
        });
      });
    },
    async stop() {
      stopping = true;
      const deadline = Date.now() + stopDrainMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const s = socket;
      socket = undefined;
      dupReset();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

function authMethodOf(packet: RadiusPacket): RadiusRequest["authMethod"] {
  return hasAttribute(packet, "User-Password")
    ? "pap"
    : hasAttribute(packet, "CHAP-Password")
      ? "chap"
      : hasAttribute(packet, "MS-CHAP2-Response")
        ? "mschapv2"
        : hasAttribute(packet, "MS-CHAP-Response")
          ? "mschapv1"
          : hasAttribute(packet, "EAP-Message")
            ? "eap"
            : "none";
}

const NO_ATTRIBUTES: AttributeList = [];

/** The handler's view of a request: one object, methods on the prototype (no closures per request). */
class ServerRequest implements RadiusRequest {
  readonly code: number;
  readonly nasIp: string;
  readonly srcPort: number;
  readonly authMethod: RadiusRequest["authMethod"];
  constructor(
    readonly kind: RadiusServerKind,
    readonly packet: RadiusPacket,
    rinfo: RemoteInfo,
    readonly secret: string,
    readonly receivedAt: number,
  ) {
    this.code = packet.code;
    this.nasIp = rinfo.address;
    this.srcPort = rinfo.port;
    this.authMethod = authMethodOf(packet);
  }
  getString(name: string): string | undefined {
    return getString(this.packet, name);
  }
  getInt(name: string): number | undefined {
    return getInt(this.packet, name);
  }
  getIp(name: string): string | undefined {
    return getIp(this.packet, name);
  }
  getBuffer(name: string): Buffer | undefined {
    return getBuffer(this.packet, name);
  }
  getBigInt(name: string): bigint | undefined {
    return getBigInt(this.packet, name);
  }
  getDate(name: string): Date | undefined {
    return getDate(this.packet, name);
  }
  has(name: string): boolean {
    return hasAttribute(this.packet, name);
  }
  papPassword(): string | undefined {
    return papPassword(this.packet, this.secret);
  }
  verifyChap(password: string): boolean {
    return verifyChap(this.packet, password);
  }
}
