// RADIUS client over one UDP socket: identifier allocation per destination, bounded
// in-flight and queue, retransmission on timeout, response authentication. Used by the
// CoA/Disconnect client and by the router simulator (auth and accounting).
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { encodeRequest, verifyMessageAuthenticator, verifyResponseAuthenticator } from "./auth";
import { decodePacket, type AttributeList, type RadiusPacket } from "./codec";

/** One octet of Identifier: at most 256 outstanding requests per destination and socket. */
export const IDENTIFIERS_PER_DESTINATION = 256;

export const SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT = 4 * 1024 * 1024;

/** Best effort: the kernel caps it at net.core.rmem_max, and some platforms refuse. */
export function setReceiveBuffer(socket: Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // keep the default
  }
}

export interface RadiusClientOptions {
  /** Source address to bind (e.g. a NAS loopback 127.0.0.2); default any. */
  localAddress?: string;
  /** Default 0 (ephemeral). */
  localPort?: number;
  /** Outstanding requests per destination (≤ 256). Default 256. */
  inFlightPerDestinationMax?: number;
  /** Requests waiting for an identifier, over all destinations; beyond it request() rejects. Default 65536. */
  queueMax?: number;
  /** SO_RCVBUF: a burst of 256 replies overflows Linux's ~208 KiB default. Capped by net.core.rmem_max. Default 4 MiB. */
  socketReceiveBufferBytes?: number;
}

export interface ClientRequest {
  /** An IP address (responses are matched by source address). */
  host: string;
  port: number;
  secret: string;
  code: number;
  attributes: AttributeList;
  /** Per attempt. Default 2000. */
  timeoutMs?: number;
  /** Retransmissions after the first attempt. Default 2. */
  retries?: number;
  /** Default true. */
  messageAuthenticator?: boolean;
}

export interface ClientResult {
  /** Authenticated response, or null on timeout. */
  response: RadiusPacket | null;
  /** From the first transmission to the response (or to giving up). */
  latencyMs: number;
  attempts: number;
}

export interface RadiusClientStats {
  sent: number;
  retransmits: number;
  responses: number;
  timeouts: number;
  /** Responses failing authentication or decoding: ignored. */
  badResponses: number;
  /** Responses matching no outstanding request (late, duplicate or spoofed). */
  unmatchedResponses: number;
}

interface Pending {
  request: ClientRequest;
  resolve: (r: ClientResult) => void;
  raw?: Buffer;
  authenticator?: Buffer;
  startedAt: number;
  attempts: number;
  timer?: NodeJS.Timeout;
}

interface Destination {
  key: string;
  nextId: number;
  pending: Map<number, Pending>;
  queue: Pending[];
}

export class ClientQueueFullError extends Error {
  override readonly name = "ClientQueueFullError";
}

export class RadiusClient {
  readonly stats: RadiusClientStats = { sent: 0, retransmits: 0, responses: 0, timeouts: 0, badResponses: 0, unmatchedResponses: 0 };
  private socket: Socket | undefined;
  private opening: Promise<{ address: string; port: number }> | undefined;
  private readonly destinations = new Map<string, Destination>();
  private queued = 0;
  private closed = false;
  private readonly inFlightMax: number;
  private readonly queueMax: number;

  constructor(private readonly options: RadiusClientOptions = {}) {
    this.inFlightMax = Math.min(options.inFlightPerDestinationMax ?? IDENTIFIERS_PER_DESTINATION, IDENTIFIERS_PER_DESTINATION);
    this.queueMax = options.queueMax ?? 65536;
  }

  /** Binds the socket (done lazily by request()). */
  open(): Promise<{ address: string; port: number }> {
    if (this.opening) return this.opening;
    this.closed = false;
    this.opening = new Promise((resolve, reject) => {
      const local = this.options.localAddress;
      const s = createSocket({ type: local && isIPv6(local) ? "udp6" : "udp4" });
      const onError = (err: Error) => {
        this.opening = undefined;
        reject(err);
      };
      s.once("error", onError);
      s.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
      s.bind(this.options.localPort ?? 0, local, () => {
        s.off("error", onError);
        s.on("error", () => {
          // ICMP port unreachable and the like: the request simply times out.
        });
        setReceiveBuffer(s, this.options.socketReceiveBufferBytes ?? SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT);
        this.socket = s;
        resolve(s.address());
      });
    });
    return this.opening;
  }

  inFlight(): number {
    let n = 0;
    for (const d of this.destinations.values()) n += d.pending.size;
    return n;
  }

  async request(request: ClientRequest): Promise<ClientResult> {
    if (this.closed) throw new Error("RadiusClient is closed");
    await this.open();
    const key = `${request.host}|${request.port}`;
    let dest = this.destinations.get(key);
    if (!dest) {
      dest = { key, nextId: Math.floor(Math.random() * 256), pending: new Map(), queue: [] };
      this.destinations.set(key, dest);
    }
    return new Promise<ClientResult>((resolve, reject) => {
      const p: Pending = { request, resolve, startedAt: performance.now(), attempts: 0 };
      if (dest.pending.size < this.inFlightMax) {
        this.dispatch(dest, p);
        return;
      }
      if (this.queued >= this.queueMax) {
        reject(new ClientQueueFullError(`RADIUS client queue full (queueMax ${this.queueMax})`));
        return;
      }
      this.queued++;
      dest.queue.push(p);
    });
  }

  private allocateId(dest: Destination): number {
    for (let i = 0; i < 256; i++) {
      const id = (dest.nextId + i) & 0xff;
      if (!dest.pending.has(id)) {
        dest.nextId = (id + 1) & 0xff;
        return id;
      }
    }
    throw new Error("no free RADIUS identifier"); // unreachable: guarded by inFlightMax ≤ 256
  }

  private dispatch(dest: Destination, p: Pending): void {
    const id = this.allocateId(dest);
    // Throws on the caller's encoding bugs (unknown attribute, bad value): request() rejects.
    const encoded = encodeRequest({
      code: p.request.code,
      identifier: id,
      attributes: p.request.attributes,
      secret: p.request.secret,
      messageAuthenticator: p.request.messageAuthenticator !== false,
    });
    p.raw = encoded.raw;
    p.authenticator = encoded.authenticator;
    p.startedAt = performance.now();
    dest.pending.set(id, p);
    this.transmit(dest, id, p);
  }

  private transmit(dest: Destination, id: number, p: Pending): void {
    const timeoutMs = p.request.timeoutMs ?? 2000;
    const retries = p.request.retries ?? 2;
    p.attempts++;
    this.stats.sent++;
    if (p.attempts > 1) this.stats.retransmits++;
    this.socket?.send(p.raw!, p.request.port, p.request.host);
    p.timer = setTimeout(() => {
      if (dest.pending.get(id) !== p) return;
      if (p.attempts <= retries && !this.closed) {
        this.transmit(dest, id, p);
        return;
      }
      this.stats.timeouts++;
      this.complete(dest, id, p, null);
    }, timeoutMs);
  }

  private complete(dest: Destination, id: number, p: Pending, response: RadiusPacket | null): void {
    if (p.timer) clearTimeout(p.timer);
    dest.pending.delete(id);
    p.resolve({ response, latencyMs: performance.now() - p.startedAt, attempts: p.attempts });
    while (dest.queue.length && dest.pending.size < this.inFlightMax && !this.closed) {
      const next = dest.queue.shift()!;
      this.queued--;
      try {
        this.dispatch(dest, next);
      } catch {
        next.resolve({ response: null, latencyMs: 0, attempts: 0 });
      }
    }
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const dest = this.destinations.get(`${rinfo.address}|${rinfo.port}`);
    if (msg.length < 20 || !dest) {
      this.stats.unmatchedResponses++;
      return;
    }
    const p = dest.pending.get(msg[1]!);
    if (!p || !p.authenticator) {
      this.stats.unmatchedResponses++;
      return;
    }
    let packet: RadiusPacket;
    try {
      packet = decodePacket(msg);
    } catch {
      this.stats.badResponses++;
      return;
    }
    const secret = p.request.secret;
    if (!verifyResponseAuthenticator(packet.raw, p.authenticator, secret) || !verifyMessageAuthenticator(packet, secret, p.authenticator)) {
      this.stats.badResponses++;
      return;
    }
    this.stats.responses++;
    this.complete(dest, packet.identifier, p, packet);
  }

  /** Outstanding and queued requests resolve as timeouts. */
  async close(): Promise<void> {
    this.closed = true;
    for (const dest of this.destinations.values()) {
      for (const [id, p] of [...dest.pending]) this.complete(dest, id, p, null);
      for (const p of dest.queue) p.resolve({ response: null, latencyMs: performance.now() - p.startedAt, attempts: 0 });
      dest.queue = [];
    }
    this.queued = 0;
    const s = this.socket;
    this.socket = undefined;
    this.opening = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
