// A virtual NAS: PPPoE-like subscribers that authenticate over RADIUS (PAP or CHAP), send
// accounting Start / Interim-Update / Stop with plausible counters, and obey RFC 5176
// Disconnect-Request and CoA-Request on the NAS's CoA port. It binds a loopback source
// address (127.0.0.x) so one machine can play many routers.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { chapPassword, encodeResponse, verifyAccountingRequestAuthenticator, verifyMessageAuthenticator } from "../radius/auth";
import { splitOctets } from "../radius/accounting";
import { RadiusClient, setReceiveBuffer, SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT } from "../radius/client";
import { decodePacket, getBuffer, getIp, getString, PacketCode, type RadiusPacket } from "../radius/codec";
import { parseMikrotikRateLimit } from "../radius/rate-limit";
import { createRouterOsApiServer, type RouterOsApiServer, type RouterOsApiServerOptions, type RouterOsApiServerStats } from "../routeros/api-server";
import { createRouterOsRestServer, type RouterOsRestServer } from "../routeros/rest-server";
import { formatMaxLimit, parseMaxLimit, RouterState, type RosRecord } from "../routeros/state";

export interface SimSubscriber {
  username: string;
  password: string;
  /** Calling-Station-Id; derived from the subscriber's index when omitted. */
  macAddress?: string;
}

export interface RouterSimulatorOptions {
  /** Loopback address bound as the NAS source address (e.g. 127.0.0.2); also sent as NAS-IP-Address. */
  nasIp: string;
  nasIdentifier?: string;
  secret: string;
  serverHost: string;
  authPort: number;
  acctPort: number;
  /** Listen on nasIp:coaPort for Disconnect/CoA; 0 = ephemeral (see coaBoundPort()). */
  coaPort: number;
  subscribers: SimSubscriber[];
  /** Default 60000. */
  interimIntervalMs?: number;
  /** Ramp: new dial-ins per second. Default 50. */
  connectPerSecond?: number;
  /** Fraction of subscribers authenticating with CHAP instead of PAP. Default 0. */
  chapRatio?: number;
  /** Redial after a reject, timeout or disconnect; never when omitted. */
  autoReconnectAfterMs?: number;
  /** Per attempt. Default 3000. */
  requestTimeoutMs?: number;
  /** Retransmissions after the first attempt. Default 2. */
  requestRetries?: number;
  /** Fraction of sessions whose counters start above 2^32, to exercise gigawords. Default 0.1. */
  highCounterRatio?: number;
  /** Share of the rate limit a subscriber uses, [min, max]. Default [0.05, 0.6]. */
  utilisation?: [number, number];
  /** stop() sends Accounting Stop for every session. Default true. */
  stopSendsStops?: boolean;
  /** Seed for reproducible choices (CHAP, counters). */
  seed?: number;
  /**
   * "ack-without-acting" answers Disconnect/CoA for a known session with an ACK and does
   * nothing, the router bug behind "CoA was ACKed but the user stayed online". Default "act".
   */
  coaMode?: CoaMode;
  /** Serve the RouterOS API (TCP) over this router's state; host defaults to nasIp, port 0 = ephemeral. */
  routerOsApi?: { port: number; host?: string } & Pick<RouterOsApiServerOptions, "legacyLogin" | "faults" | "connectionsMax" | "tls">;
  /** Serve the RouterOS 7 REST API (HTTP, or HTTPS with `tls`: PEM key and certificate) over the same state. */
  routerOsRest?: { port: number; host?: string; tls?: { key: string | Buffer; cert: string | Buffer } };
  /** API/REST logins, name -> password. Default { admin: "" } as on a fresh RouterOS. */
  routerUsers?: Record<string, string>;
}

export type CoaMode = "act" | "ack-without-acting";

export type AuthMethod = "pap" | "chap";

export interface SimSession {
  username: string;
  acctSessionId: string;
  framedIp: string;
  nasPort: number;
  nasPortId: string;
  callingStationId: string;
  authMethod: AuthMethod;
  rateLimit: string | undefined;
  downloadKbps: number;
  uploadKbps: number;
  startedAt: Date;
  lastUpdateAt: Date;
  inputOctets: bigint;
  outputOctets: bigint;
  inputPackets: number;
  outputPackets: number;
}

export interface SimStats {
  online: number;
  authenticating: number;
  accepts: number;
  rejects: number;
  authTimeouts: number;
  starts: number;
  interims: number;
  stops: number;
  acctTimeouts: number;
  disconnectRequests: number;
  disconnectAcks: number;
  disconnectNaks: number;
  coaRequests: number;
  coaAcks: number;
  coaNaks: number;
  coaDropped: number;
  /** Disconnect/CoA requests ACKed while coaMode was "ack-without-acting". */
  ackedWithoutActing: number;
  /** /ppp/active entries removed through the RouterOS API or REST. */
  apiRemovals: number;
  retransmits: number;
}

export interface RouterSimulatorEvents {
  accept: [{ username: string; framedIp: string; rateLimit: string | undefined; authMethod: AuthMethod }];
  reject: [{ username: string; replyMessage: string | undefined; authMethod: AuthMethod }];
  "auth-timeout": [{ username: string }];
  "session-start": [SimSession];
  "session-stop": [SimSession & { terminateCause: string }];
  "disconnect-request": [{ from: string; acctSessionId?: string; userName?: string; framedIp?: string; found: boolean }];
  "coa-request": [{ from: string; acctSessionId?: string; userName?: string; framedIp?: string; found: boolean; rateLimit?: string }];
}

type SubscriberState = "idle" | "queued" | "authenticating" | "online" | "stopping";

interface SubscriberSlot {
  index: number;
  sub: SimSubscriber;
  state: SubscriberState;
  session?: LiveSession;
  reconnectTimer?: NodeJS.Timeout;
}

interface LiveSession extends SimSession {
  slot: SubscriberSlot;
  class: Buffer | undefined;
  interimTimer?: NodeJS.Timeout;
  utilisation: number;
  /** `.id` under /ppp/active. */
  rosId: string;
  /** `.id` of the dynamic `<pppoe-name>` simple queue, when the RouterOS servers run. */
  queueId?: string;
}

const DEFAULT_DOWNLOAD_KBPS = 10240;
const DEFAULT_UPLOAD_KBPS = 2048;
const RAMP_TICK_MS = 20;
/** Answers kept to repeat for retransmitted CoA/Disconnect requests (oldest evicted). */
const COA_REPLY_CACHE_ENTRIES_MAX = 1024;
/** The ramp starts at most this many dial-ins per tick, whatever connectPerSecond says. */
const RAMP_BURST_MAX = 500;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class RouterSimulator extends EventEmitter<RouterSimulatorEvents> {
  private readonly opts: Required<Omit<RouterSimulatorOptions, "autoReconnectAfterMs" | "seed" | "coaMode" | "routerOsApi" | "routerOsRest" | "routerUsers">> &
    Pick<RouterSimulatorOptions, "autoReconnectAfterMs" | "routerOsApi" | "routerOsRest">;
  /** The router's configuration as its API and REST servers see it (queues, address lists, secrets, /ppp/active). */
  readonly routerState: RouterState;
  private coaModeNow: CoaMode;
  private apiServer: RouterOsApiServer | undefined;
  private restServer: RouterOsRestServer | undefined;
  private readonly slots: SubscriberSlot[];
  private readonly byId = new Map<string, LiveSession>();
  private readonly client: RadiusClient;
  private coaSocket: Socket | undefined;
  private coaPortBound = 0;
  private rampTimer: NodeJS.Timeout | undefined;
  private rampCredit = 0;
  private readonly connectQueue: SubscriberSlot[] = [];
  private readonly coaReplies = new Map<string, { authenticator: Buffer; reply: Buffer }>();
  private running = false;
  private sessionCounter = 0;
  private readonly sessionPrefix: string;
  private readonly poolPrefix: string;
  private readonly random: () => number;
  private readonly counters: Omit<SimStats, "online" | "authenticating" | "retransmits"> = {
    accepts: 0,
    rejects: 0,
    authTimeouts: 0,
    starts: 0,
    interims: 0,
    stops: 0,
    acctTimeouts: 0,
    disconnectRequests: 0,
    disconnectAcks: 0,
    disconnectNaks: 0,
    coaRequests: 0,
    coaAcks: 0,
    coaNaks: 0,
    coaDropped: 0,
    ackedWithoutActing: 0,
    apiRemovals: 0,
  };

  constructor(options: RouterSimulatorOptions) {
    super();
    this.opts = {
      nasIdentifier: `sim-${options.nasIp}`,
      interimIntervalMs: 60_000,
      connectPerSecond: 50,
      chapRatio: 0,
      requestTimeoutMs: 3000,
      requestRetries: 2,
      highCounterRatio: 0.1,
      utilisation: [0.05, 0.6],
      stopSendsStops: true,
      ...options,
    };
    this.random = mulberry32(options.seed ?? Date.now());
    this.slots = options.subscribers.map((sub, index) => ({ index, sub, state: "idle" }));
    this.client = new RadiusClient({ localAddress: options.nasIp });
    const octets = options.nasIp.split(".").map(Number);
    const last = octets[3] ?? 0;
    // Unique across restarts of the same NAS, like RouterOS's counter after a reboot.
    this.sessionPrefix = `${last.toString(16).padStart(2, "0")}${Math.floor(Date.now() / 1000).toString(16)}`;
    this.poolPrefix = `100.${64 + (last % 64)}`;
    this.coaModeNow = options.coaMode ?? "act";
    this.routerState = new RouterState({ users: options.routerUsers ?? { admin: "" }, identity: this.opts.nasIdentifier });
    this.routerState.ppp = {
      list: () => [...this.byId.values()].map((s) => this.pppActiveRecord(s)),
      remove: (id) => {
        const session = [...this.byId.values()].find((s) => s.rosId === id);
        if (!session) return false;
        this.counters.apiRemovals++;
        // As `/ppp active remove` on RouterOS: the session ends at once and Stop follows.
        void this.endSession(session, "Admin-Reset");
        return true;
      },
    };
    this.routerState.on("queue-change", (q) => this.onQueueChange(q));
  }

  /** Switches how Disconnect/CoA requests are obeyed, e.g. to turn the "ACK but stays online" bug on mid-test. */
  setCoaMode(mode: CoaMode): void {
    this.coaModeNow = mode;
  }

  get coaMode(): CoaMode {
    return this.coaModeNow;
  }

  /** RouterOS API port (0 when not serving). */
  apiBoundPort(): number {
    return this.apiServer?.port ?? 0;
  }

  /** RouterOS REST port (0 when not serving). */
  restBoundPort(): number {
    return this.restServer?.port ?? 0;
  }

  private get servesRouterOs(): boolean {
    return this.opts.routerOsApi !== undefined || this.opts.routerOsRest !== undefined;
  }

  /** The bound CoA port (useful with coaPort 0). */
  coaBoundPort(): number {
    return this.coaPortBound;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.client.open();
    this.coaSocket = await new Promise<Socket>((resolve, reject) => {
      const s = createSocket("udp4");
      s.once("error", reject);
      s.on("message", (msg, rinfo) => this.onCoaMessage(msg, rinfo));
      s.bind(this.opts.coaPort, this.opts.nasIp, () => {
        s.off("error", reject);
        s.on("error", () => undefined);
        setReceiveBuffer(s, SOCKET_RECEIVE_BUFFER_BYTES_DEFAULT);
        resolve(s);
      });
    });
    this.coaPortBound = this.coaSocket.address().port;
    const api = this.opts.routerOsApi;
    if (api) {
      const { port, host, ...rest } = api;
      this.apiServer = createRouterOsApiServer({ ...rest, state: this.routerState, port, host: host ?? this.opts.nasIp });
      await this.apiServer.start();
    }
    const restOpts = this.opts.routerOsRest;
    if (restOpts) {
      this.restServer = createRouterOsRestServer({ state: this.routerState, port: restOpts.port, host: restOpts.host ?? this.opts.nasIp, ...(restOpts.tls ? { tls: restOpts.tls } : {}) });
      await this.restServer.start();
    }
    this.running = true;
    for (const slot of this.slots) this.enqueue(slot);
  }

  /** Ends all sessions (sending Stop unless told otherwise) and closes the sockets. */
  async stop(options: { sendStops?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.rampTimer) clearInterval(this.rampTimer);
    this.rampTimer = undefined;
    this.connectQueue.length = 0;
    // No API commands while the sessions wind down.
    await this.apiServer?.stop();
    await this.restServer?.stop();
    this.apiServer = undefined;
    this.restServer = undefined;
    const sendStops = options.sendStops ?? this.opts.stopSendsStops;
    const ending: Promise<void>[] = [];
    for (const slot of this.slots) {
      if (slot.reconnectTimer) clearTimeout(slot.reconnectTimer);
      if (slot.session) {
        if (sendStops) ending.push(this.endSession(slot.session, "Admin-Reboot"));
        else if (slot.session.interimTimer) clearTimeout(slot.session.interimTimer);
      }
    }
    await Promise.all(ending);
    await this.client.close();
    const s = this.coaSocket;
    this.coaSocket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  sessions(): SimSession[] {
    return [...this.byId.values()].map((s) => this.snapshot(s));
  }

  /** The RouterOS API server's own counters (logins, tlsErrors, ...); undefined when it does not run. */
  apiServerStats(): Readonly<RouterOsApiServerStats> | undefined {
    return this.apiServer?.stats;
  }

  stats(): SimStats {
    let authenticating = 0;
    for (const slot of this.slots) if (slot.state === "authenticating") authenticating++;
    return { ...this.counters, online: this.byId.size, authenticating, retransmits: this.client.stats.retransmits };
  }

  /** Ends one subscriber's session as if the user hung up (Stop with User-Request). */
  async hangUp(username: string): Promise<boolean> {
    const slot = this.slots.find((s) => s.sub.username === username);
    if (!slot?.session) return false;
    await this.endSession(slot.session, "User-Request");
    return true;
  }

  // ------------------------------------------------------------ dialing

  private enqueue(slot: SubscriberSlot): void {
    if (!this.running || slot.state !== "idle") return;
    slot.state = "queued";
    this.connectQueue.push(slot);
    if (!this.rampTimer) this.rampTimer = setInterval(() => this.rampTick(), RAMP_TICK_MS);
  }

  private rampTick(): void {
    this.rampCredit = Math.min(this.rampCredit + (this.opts.connectPerSecond * RAMP_TICK_MS) / 1000, RAMP_BURST_MAX);
    while (this.rampCredit >= 1 && this.connectQueue.length) {
      this.rampCredit--;
      void this.dial(this.connectQueue.shift()!);
    }
    if (!this.connectQueue.length && this.rampTimer) {
      clearInterval(this.rampTimer);
      this.rampTimer = undefined;
    }
  }

  private scheduleReconnect(slot: SubscriberSlot): void {
    const after = this.opts.autoReconnectAfterMs;
    if (after === undefined || !this.running) return;
    slot.reconnectTimer = setTimeout(() => {
      slot.reconnectTimer = undefined;
      this.enqueue(slot);
    }, after);
  }

  private macOf(slot: SubscriberSlot): string {
    if (slot.sub.macAddress) return slot.sub.macAddress;
    const i = slot.index;
    const last = Number(this.opts.nasIp.split(".")[3] ?? 0);
    return [0x02, 0x00, last, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
  }

  private poolIp(slot: SubscriberSlot): string {
    const n = slot.index + 2; // skip .0.0 and .0.1 (the gateway)
    return `${this.poolPrefix}.${(n >> 8) & 255}.${n & 255}`;
  }

  private async dial(slot: SubscriberSlot): Promise<void> {
    if (!this.running) return;
    slot.state = "authenticating";
    const { username, password } = slot.sub;
    const authMethod: AuthMethod = this.random() < this.opts.chapRatio ? "chap" : "pap";
    const nasPortId = `pppoe-${username}`;
    const attributes: Array<readonly [string, string | number | Buffer]> = [["User-Name", username]];
    if (authMethod === "chap") {
      const challenge = randomBytes(16);
      attributes.push(["CHAP-Password", chapPassword(slot.index & 0xff, password, challenge)], ["CHAP-Challenge", challenge]);
    } else {
      attributes.push(["User-Password", password]);
    }
    attributes.push(
      ["NAS-IP-Address", this.opts.nasIp],
      ["NAS-Identifier", this.opts.nasIdentifier],
      ["NAS-Port", slot.index + 1],
      ["NAS-Port-Id", nasPortId],
      ["NAS-Port-Type", "Ethernet"],
      ["Calling-Station-Id", this.macOf(slot)],
      ["Service-Type", "Framed-User"],
      ["Framed-Protocol", "PPP"],
    );
    let response: RadiusPacket | null;
    try {
      ({ response } = await this.client.request({
        host: this.opts.serverHost,
        port: this.opts.authPort,
        secret: this.opts.secret,
        code: PacketCode.AccessRequest,
        attributes,
        timeoutMs: this.opts.requestTimeoutMs,
        retries: this.opts.requestRetries,
      }));
    } catch {
      response = null;
    }
    if (!this.running) {
      slot.state = "idle";
      return;
    }
    if (!response) {
      this.counters.authTimeouts++;
      slot.state = "idle";
      this.emit("auth-timeout", { username });
      this.scheduleReconnect(slot);
      return;
    }
    if (response.code !== PacketCode.AccessAccept) {
      this.counters.rejects++;
      slot.state = "idle";
      this.emit("reject", { username, replyMessage: getString(response, "Reply-Message"), authMethod });
      this.scheduleReconnect(slot);
      return;
    }
    this.counters.accepts++;
    const rateLimit = getString(response, "Mikrotik-Rate-Limit");
    const rates = (rateLimit && parseMikrotikRateLimit(rateLimit)) || { downloadKbps: DEFAULT_DOWNLOAD_KBPS, uploadKbps: DEFAULT_UPLOAD_KBPS };
    const framedIp = getIp(response, "Framed-IP-Address") ?? this.poolIp(slot);
    const now = new Date();
    // Some sessions start beyond 2^32 octets so gigawords are exercised from the first interim.
    const high = this.random() < this.opts.highCounterRatio;
    const outputStart = high ? 5_000_000_000n + BigInt(Math.floor(this.random() * 3_000_000_000)) : 0n;
    const [umin, umax] = this.opts.utilisation;
    const utilisation = umin + this.random() * (umax - umin);
    // A high-counter session stands for one that has been up for days: its session clock
    // is backdated to match the octets at its rate, so the first interim's throughput
    // (delta octets over delta session time) stays within the plan instead of spiking.
    const backdateMs = high ? Math.ceil((Number(outputStart) * 8 * 1000) / (rates.downloadKbps * 1000 * utilisation)) : 0;
    const session: LiveSession = {
      slot,
      username,
      acctSessionId: `${this.sessionPrefix}${(++this.sessionCounter).toString(16).padStart(6, "0")}`,
      framedIp,
      nasPort: slot.index + 1,
      nasPortId,
      callingStationId: this.macOf(slot),
      authMethod,
      rateLimit,
      downloadKbps: rates.downloadKbps,
      uploadKbps: rates.uploadKbps,
      startedAt: new Date(now.getTime() - backdateMs),
      lastUpdateAt: now,
      inputOctets: outputStart / 8n,
      outputOctets: outputStart,
      inputPackets: 0,
      outputPackets: 0,
      class: getBuffer(response, "Class"),
      utilisation,
      rosId: this.routerState.allocateId(),
    };
    if (this.servesRouterOs) {
      // RouterOS gives a RADIUS rate limit a dynamic simple queue named <pppoe-user>.
      try {
        session.queueId = this.routerState.add(
          "/queue/simple",
          { name: `<${nasPortId}>`, target: `${framedIp}/32`, "max-limit": formatMaxLimit(rates) },
          { dynamic: true },
        );
      } catch {
        // a leftover of the same name: the session simply has no dynamic queue
      }
    }
    slot.session = session;
    slot.state = "online";
    this.byId.set(session.acctSessionId, session);
    this.emit("accept", { username, framedIp, rateLimit, authMethod });
    await this.sendAccounting(session, "Start");
    this.counters.starts++;
    if (slot.session !== session) return; // disconnected while the Start was in flight
    this.emit("session-start", this.snapshot(session));
    this.scheduleInterim(session);
  }

  private scheduleInterim(session: LiveSession): void {
    if (!this.running) return;
    session.interimTimer = setTimeout(() => {
      session.interimTimer = undefined;
      if (session.slot.session !== session) return;
      this.grow(session);
      this.counters.interims++;
      void this.sendAccounting(session, "Interim-Update").then(() => {
        if (session.slot.session === session) this.scheduleInterim(session);
      });
    }, this.opts.interimIntervalMs);
  }

  /** Traffic since the last update, from the plan's rates: download (output) exceeds upload (input). */
  private grow(session: LiveSession): void {
    const now = new Date();
    const seconds = (now.getTime() - session.lastUpdateAt.getTime()) / 1000;
    const jitter = 0.7 + this.random() * 0.6;
    const down = BigInt(Math.floor(((session.downloadKbps * 1000) / 8) * seconds * session.utilisation * jitter));
    const up = BigInt(Math.floor(((session.uploadKbps * 1000) / 8) * seconds * session.utilisation * 0.3 * jitter));
    session.outputOctets += down;
    session.inputOctets += up;
    session.outputPackets += Number(down / 1200n);
    session.inputPackets += Number(up / 400n);
    session.lastUpdateAt = now;
  }

  private async endSession(session: LiveSession, terminateCause: string): Promise<void> {
    const slot = session.slot;
    if (slot.session !== session) return;
    slot.session = undefined;
    slot.state = "stopping";
    this.byId.delete(session.acctSessionId);
    if (session.queueId) {
      try {
        this.routerState.remove("/queue/simple", session.queueId, { internal: true });
      } catch {
        // already gone
      }
    }
    if (session.interimTimer) clearTimeout(session.interimTimer);
    this.grow(session);
    await this.sendAccounting(session, "Stop", terminateCause);
    this.counters.stops++;
    slot.state = "idle";
    this.emit("session-stop", { ...this.snapshot(session), terminateCause });
    if (terminateCause !== "Admin-Reboot") this.scheduleReconnect(slot);
  }

  private async sendAccounting(session: LiveSession, status: "Start" | "Interim-Update" | "Stop", terminateCause?: string): Promise<void> {
    const attributes: Array<readonly [string, string | number | Buffer | Date]> = [
      ["Acct-Status-Type", status],
      ["Acct-Session-Id", session.acctSessionId],
      ["User-Name", session.username],
      ["NAS-IP-Address", this.opts.nasIp],
      ["NAS-Identifier", this.opts.nasIdentifier],
      ["NAS-Port", session.nasPort],
      ["NAS-Port-Id", session.nasPortId],
      ["NAS-Port-Type", "Ethernet"],
      ["Service-Type", "Framed-User"],
      ["Framed-Protocol", "PPP"],
      ["Framed-IP-Address", session.framedIp],
      ["Calling-Station-Id", session.callingStationId],
      ["Acct-Authentic", "RADIUS"],
      ["Event-Timestamp", new Date()],
      ["Acct-Delay-Time", 0],
    ];
    if (session.class) attributes.push(["Class", session.class]);
    if (status !== "Start") {
      const [inOctets, inGiga] = splitOctets(session.inputOctets);
      const [outOctets, outGiga] = splitOctets(session.outputOctets);
      attributes.push(
        ["Acct-Session-Time", Math.floor((Date.now() - session.startedAt.getTime()) / 1000)],
        ["Acct-Input-Octets", inOctets],
        ["Acct-Input-Gigawords", inGiga],
        ["Acct-Output-Octets", outOctets],
        ["Acct-Output-Gigawords", outGiga],
        ["Acct-Input-Packets", session.inputPackets >>> 0],
        ["Acct-Output-Packets", session.outputPackets >>> 0],
      );
    }
    if (terminateCause) attributes.push(["Acct-Terminate-Cause", terminateCause]);
    try {
      const { response } = await this.client.request({
        host: this.opts.serverHost,
        port: this.opts.acctPort,
        secret: this.opts.secret,
        code: PacketCode.AccountingRequest,
        attributes,
        timeoutMs: this.opts.requestTimeoutMs,
        retries: this.opts.requestRetries,
      });
      if (!response) this.counters.acctTimeouts++;
    } catch {
      this.counters.acctTimeouts++;
    }
  }

  // ------------------------------------------------------------ CoA / Disconnect (RFC 5176)

  private findSession(packet: RadiusPacket): LiveSession | undefined {
    const acctSessionId = getString(packet, "Acct-Session-Id");
    const userName = getString(packet, "User-Name");
    const framedIp = getIp(packet, "Framed-IP-Address");
    if (acctSessionId === undefined && userName === undefined && framedIp === undefined) return undefined;
    const candidates = acctSessionId !== undefined ? [this.byId.get(acctSessionId)] : [...this.byId.values()];
    // Every identification attribute given must match (RFC 5176 3).
    return candidates.find(
      (s) => s !== undefined && (userName === undefined || s.username === userName) && (framedIp === undefined || s.framedIp === framedIp),
    );
  }

  private onCoaMessage(msg: Buffer, rinfo: RemoteInfo): void {
    let packet: RadiusPacket;
    try {
      packet = decodePacket(msg);
    } catch {
      this.counters.coaDropped++;
      return;
    }
    // A retransmission (our ACK was lost) must get the same answer, not a NAK for the now-ended session.
    const replyKey = `${rinfo.address}|${rinfo.port}|${packet.identifier}`;
    const cached = this.coaReplies.get(replyKey);
    if (cached && cached.authenticator.equals(packet.authenticator)) {
      this.coaSocket?.send(cached.reply, rinfo.port, rinfo.address);
      return;
    }
    const isDisconnect = packet.code === PacketCode.DisconnectRequest;
    if (!isDisconnect && packet.code !== PacketCode.CoaRequest) {
      this.counters.coaDropped++;
      return;
    }
    if (!verifyAccountingRequestAuthenticator(packet, this.opts.secret) || !verifyMessageAuthenticator(packet, this.opts.secret)) {
      this.counters.coaDropped++;
      return;
    }
    const session = this.findSession(packet);
    const info = {
      from: rinfo.address,
      acctSessionId: getString(packet, "Acct-Session-Id"),
      userName: getString(packet, "User-Name"),
      framedIp: getIp(packet, "Framed-IP-Address"),
      found: session !== undefined,
    };
    let replyCode: number;
    const replyAttributes: Array<readonly [string, string | number]> = [];
    if (isDisconnect) {
      this.counters.disconnectRequests++;
      this.emit("disconnect-request", info);
      if (session && this.coaModeNow === "ack-without-acting") {
        replyCode = PacketCode.DisconnectAck;
        this.counters.disconnectAcks++;
        this.counters.ackedWithoutActing++;
      } else if (session) {
        replyCode = PacketCode.DisconnectAck;
        this.counters.disconnectAcks++;
        void this.endSession(session, "Admin-Reset");
      } else {
        replyCode = PacketCode.DisconnectNak;
        this.counters.disconnectNaks++;
        replyAttributes.push(["Error-Cause", "Session-Context-Not-Found"]);
      }
    } else {
      this.counters.coaRequests++;
      const rateLimit = getString(packet, "Mikrotik-Rate-Limit");
      this.emit("coa-request", rateLimit === undefined ? info : { ...info, rateLimit });
      if (session && this.coaModeNow === "ack-without-acting") {
        replyCode = PacketCode.CoaAck;
        this.counters.coaAcks++;
        this.counters.ackedWithoutActing++;
      } else if (session) {
        replyCode = PacketCode.CoaAck;
        this.counters.coaAcks++;
        const rates = rateLimit === undefined ? undefined : parseMikrotikRateLimit(rateLimit);
        if (rates) {
          this.applyRate(session, rates, rateLimit);
          if (session.queueId) {
            try {
              this.routerState.set("/queue/simple", session.queueId, { "max-limit": formatMaxLimit(rates) }, { internal: true });
            } catch {
              // the dynamic queue went away; the session's rate is what matters
            }
          }
        }
      } else {
        replyCode = PacketCode.CoaNak;
        this.counters.coaNaks++;
        replyAttributes.push(["Error-Cause", "Session-Context-Not-Found"]);
      }
    }
    const reply = encodeResponse({
      code: replyCode,
      identifier: packet.identifier,
      requestAuthenticator: packet.authenticator,
      attributes: replyAttributes,
      secret: this.opts.secret,
    });
    this.coaReplies.delete(replyKey);
    this.coaReplies.set(replyKey, { authenticator: Buffer.from(packet.authenticator), reply });
    if (this.coaReplies.size > COA_REPLY_CACHE_ENTRIES_MAX) this.coaReplies.delete(this.coaReplies.keys().next().value!);
    this.coaSocket?.send(reply, rinfo.port, rinfo.address);
  }

  private applyRate(session: LiveSession, rates: { downloadKbps: number; uploadKbps: number }, rateLimit: string | undefined): void {
    session.rateLimit = rateLimit;
    if (session.downloadKbps === rates.downloadKbps && session.uploadKbps === rates.uploadKbps) return;
    this.grow(session); // bill the old rate up to now
    session.downloadKbps = rates.downloadKbps;
    session.uploadKbps = rates.uploadKbps;
  }

  /** A simple queue added or set through the API/REST limits the session it targets (by address, or by name). */
  private onQueueChange(q: RosRecord): void {
    if (q.disabled === "true") return;
    const rates = parseMaxLimit(q["max-limit"] ?? "");
    if (!rates) return;
    const target = (q.target ?? "").split(",").map((t) => (t.endsWith("/32") ? t.slice(0, -3) : t));
    for (const s of this.byId.values()) {
      if (target.includes(s.framedIp) || q.name === s.username || q.name === `<${s.nasPortId}>`) {
        this.applyRate(s, rates, `${Math.round(rates.uploadKbps)}k/${Math.round(rates.downloadKbps)}k`);
      }
    }
  }

  private pppActiveRecord(s: LiveSession): RosRecord {
    const up = Math.max(0, Math.floor((Date.now() - s.startedAt.getTime()) / 1000));
    const d = Math.floor(up / 86400);
    const h = Math.floor((up % 86400) / 3600);
    const m = Math.floor((up % 3600) / 60);
    return {
      ".id": s.rosId,
      name: s.username,
      service: "pppoe",
      "caller-id": s.callingStationId,
      address: s.framedIp,
      uptime: `${d ? `${d}d` : ""}${h}h${m}m${up % 60}s`,
      encoding: "",
      "session-id": `0x${s.acctSessionId.toUpperCase()}`,
      "limit-bytes-in": "0",
      "limit-bytes-out": "0",
      radius: "true",
    };
  }

  private snapshot(s: LiveSession): SimSession {
    return {
      username: s.username,
      acctSessionId: s.acctSessionId,
      framedIp: s.framedIp,
      nasPort: s.nasPort,
      nasPortId: s.nasPortId,
      callingStationId: s.callingStationId,
      authMethod: s.authMethod,
      rateLimit: s.rateLimit,
      downloadKbps: s.downloadKbps,
      uploadKbps: s.uploadKbps,
      startedAt: s.startedAt,
      lastUpdateAt: s.lastUpdateAt,
      inputOctets: s.inputOctets,
      outputOctets: s.outputOctets,
      inputPackets: s.inputPackets,
      outputPackets: s.outputPackets,
    };
  }
}
