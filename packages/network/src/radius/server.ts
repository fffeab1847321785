// UDP RADIUS server core: authentication (1812) or accounting (1813). It decodes,
// authenticates the NAS, hands a typed request to an injected handler and encodes the
// reply. Bad input never reaches the handler: it is a counted drop with a throttled log.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { setReceiveBuffer, SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT } from "./client";
import {
  hasComputedRequestAuthenticator,
  encodeResponse,
  papPassword,
  verifyAccountingRequestAuthenticator,
  verifyChap,
  verifyMessageAuthenticator,
} from "./auth";
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

interface DuplicateEntry {
  authenticator: Buffer;
  reply: Buffer | null;
  expiresAt: number;
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
  const duplicates = new Map<string, DuplicateEntry>();
  const logWindows = new Map<DropReason, { startedAt: number; count: number; suppressed: number; suppressedBefore: number }>();

  function log(level: "warn" | "error", reason: DropReason, rinfo: RemoteInfo, message: string): void {
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
      options.log({ level, reason, nasIp: rinfo.address, srcPort: rinfo.port, message: `radius ${kind}: ${message}`, suppressed });
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

  function sweepDuplicates(now: number): void {
    for (const [key, entry] of duplicates) {
      if (entry.expiresAt > now && duplicates.size <= duplicateCacheEntriesMax) break;
      duplicates.delete(key);
    }
  }

  function send(buf: Buffer, rinfo: RemoteInfo): void {
    if (!socket) return;
    socket.send(buf, rinfo.port, rinfo.address, (err) => {
      if (err) {
        counters.sendErrors++;
        log("error", "send-error", rinfo, `send failed: ${err.message}`);
      }
    });
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
    sweepDuplicates(now);
    const dupKey = `${rinfo.address}|${rinfo.port}|${packet.identifier}`;
    const dup = duplicates.get(dupKey);
    if (dup && dup.expiresAt > now && dup.authenticator.equals(packet.authenticator)) {
      if (dup.reply) {
        counters.duplicatesResent++;
        send(dup.reply, rinfo);
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
    const entry: DuplicateEntry = { authenticator: packet.authenticator, reply: null, expiresAt: now + duplicateCacheMs };
    duplicates.delete(dupKey);
    duplicates.set(dupKey, entry);

    if (packet.code === PacketCode.StatusServer) {
      finish(packet, secret, rinfo, dupKey, entry, { code: kind === "auth" ? PacketCode.AccessAccept : PacketCode.AccountingResponse });
      return;
    }

    const request = makeRequest(kind, packet, rinfo, secret, receivedAt);
    inFlight++;
    let result: RadiusReply | null | Promise<RadiusReply | null>;
    try {
      result = options.handler(request);
    } catch (err) {
      inFlight--;
      handlerFailed(err, rinfo, dupKey);
      return;
    }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<RadiusReply | null>).then(
        (reply) => {
          inFlight--;
          finish(packet, secret, rinfo, dupKey, entry, reply);
        },
        (err: unknown) => {
          inFlight--;
          handlerFailed(err, rinfo, dupKey);
        },
      );
    } else {
      inFlight--;
      finish(packet, secret, rinfo, dupKey, entry, result as RadiusReply | null);
    }
  }

  function handlerFailed(err: unknown, rinfo: RemoteInfo, dupKey: string): void {
    counters.handlerErrors++;
    duplicates.delete(dupKey);
    log("error", "handler-error", rinfo, `handler failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  function finish(packet: RadiusPacket, secret: string, rinfo: RemoteInfo, dupKey: string, entry: DuplicateEntry, reply: RadiusReply | null): void {
    if (!reply) {
      counters.dropByHandler++;
      duplicates.delete(dupKey);
      return;
    }
    let raw: Buffer;
    try {
      // RFC 2865 5.33: Proxy-State is echoed unmodified and in order.
      const proxyStates = getAllBuffers(packet, "Proxy-State");
      const attributes: AttributeList = proxyStates.length
        ? [...(reply.attributes ?? []), ...proxyStates.map((v) => ["Proxy-State", v] as const)]
        : (reply.attributes ?? []);
      raw = encodeResponse({
        code: reply.code,
        identifier: packet.identifier,
        requestAuthenticator: packet.authenticator,
        requestCode: packet.code,
        attributes,
        secret,
      });
    } catch (err) {
      counters.encodeErrors++;
      duplicates.delete(dupKey);
      log("error", "encode-error", rinfo, `cannot encode reply: ${(err as Error).message}`);
      return;
    }
    entry.reply = raw;
    counters.replied++;
    send(raw, rinfo);
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
      duplicates.clear();
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

function makeRequest(kind: RadiusServerKind, packet: RadiusPacket, rinfo: RemoteInfo, secret: string, receivedAt: number): RadiusRequest {
  const authMethod = authMethodOf(packet);
  return {
    kind,
    packet,
    code: packet.code,
    nasIp: rinfo.address,
    srcPort: rinfo.port,
    secret,
    receivedAt,
    authMethod,
    getString: (name) => getString(packet, name),
    getInt: (name) => getInt(packet, name),
    getIp: (name) => getIp(packet, name),
    getBuffer: (name) => getBuffer(packet, name),
    getBigInt: (name) => getBigInt(packet, name),
    getDate: (name) => getDate(packet, name),
    has: (name) => hasAttribute(packet, name),
    papPassword: () => papPassword(packet, secret),
    verifyChap: (password) => verifyChap(packet, password),
  };
}
