// What enforcement and reconciliation ask of a MikroTik router beyond RADIUS CoA, behind one
// interface with two transports: the binary API (TCP 8728, through `node-routeros`, which
// is unmaintained upstream and so never leaks past this file) and the RouterOS 7 REST API.
// Every operation reads before it writes, so replaying it (after a timeout whose reply was
// lost, a reconnect, a retried outbox row) never leaves a duplicate entry or queue.
import { createHash, timingSafeEqual } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type TLSSocket, type TlsOptions } from "node:tls";
import { Channel, Connector, Receiver, RouterOSAPI } from "node-routeros";
import { formatMaxLimit, parseMaxLimit } from "./state";

export interface PppActiveSession {
  id: string;
  name: string;
  address: string | undefined;
  callerId: string | undefined;
  /** RouterOS's session-id ("0x81A00001"); the Acct-Session-Id is the same number in hex. */
  sessionId: string | undefined;
  uptime: string | undefined;
  service: string | undefined;
}

export interface QueueRate {
  /** Subscriber's upload (the router's rx on the subscriber side). */
  uploadKbps: number;
  downloadKbps: number;
}

export interface SimpleQueue {
  id: string;
  name: string;
  target: string;
  rate: QueueRate | undefined;
  dynamic: boolean;
  disabled: boolean;
}

export interface AddressListEntry {
  id: string;
  list: string;
  address: string;
  comment: string;
  dynamic: boolean;
}

export interface SecretSpec {
  password: string;
  profile: string;
  disabled: boolean;
  /** Default "pppoe". */
  service?: string;
  /** The subscriber's static address (`remote-address`); null/absent: none (unset on the router). */
  remoteAddress?: string | null;
  /** Marks secrets the collector manages ("isp sub <id>"); absent: the comment is left alone. */
  comment?: string;
}

export interface PppSecret {
  id: string;
  name: string;
  password: string;
  profile: string;
  service: string;
  disabled: boolean;
  remoteAddress: string | undefined;
  comment: string;
}

export interface RouterOsAdapter {
  /** Opens (and logs in); operations also connect on demand and reconnect after a failure. */
  connect(): Promise<void>;
  close(): Promise<void>;
  listActiveSessions(): Promise<PppActiveSession[]>;
  /** Removes every /ppp/active entry of that name (or the one id). 0 means it was already gone. */
  removeActiveSession(by: { name: string } | { id: string }): Promise<{ removed: number }>;
  /**
   * Makes the static simple queue `name` limit to `rate`, creating it when missing with
   * `target` (default: the address of the active session called `name`, as /32).
   */
  setQueueRate(name: string, rate: QueueRate, options?: { target?: string; comment?: string }): Promise<{ created: boolean; changed: boolean }>;
  listQueues(): Promise<SimpleQueue[]>;
  /** Adds list/address unless an entry for it exists (then added is false). */
  addToAddressList(list: string, address: string, comment?: string): Promise<{ added: boolean }>;
  removeFromAddressList(list: string, address: string): Promise<{ removed: number }>;
  listAddressList(list?: string): Promise<AddressListEntry[]>;
  /**
   * Creates or updates the /ppp/secret `name` for routers that authenticate locally, setting
   * only what differs (changed: which fields were written; a created secret lists none).
   */
  syncSecret(name: string, spec: SecretSpec): Promise<{ created: boolean; changed: boolean; fields: string[] }>;
  listSecrets(): Promise<PppSecret[]>;
  /** Removes the /ppp/secret `name`; 0 means it was already gone. */
  removeSecret(name: string): Promise<{ removed: number }>;
}

export type RouterOsErrorCode = "connect" | "login" | "timeout" | "closed" | "not-found" | "duplicate" | "trap" | "tls";

export class RouterOsError extends Error {
  constructor(
    readonly code: RouterOsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RouterOsError";
  }

  /** Transport failures: the operation may be retried on a fresh connection. `tls` (a bad pin, a failed handshake) is not: a person must look. */
  get retryable(): boolean {
    return this.code === "connect" || this.code === "timeout" || this.code === "closed";
  }
}

// ---------------------------------------------------------------- TLS (api-ssl, https)

/**
 * How a router's certificate is checked (api-ssl on 8729, REST over https). RouterOS makes
 * self-signed certificates, so the usual answer is a pin. Precedence:
 * 1. `fingerprintSha256`: the certificate's SHA-256 (of its DER) must equal the pin; nothing
 *    else is checked (no chain, name or expiry: the operator vouched for this exact certificate).
 * 2. `ca`: the chain must lead to this PEM bundle and the certificate must name the host/IP.
 * 3. `insecure: true`: any certificate (encrypted, but anyone on the path can impersonate the router).
 * 4. none of these: Node's public root CAs plus the host/IP check, which a self-signed
 *    certificate fails; the error then names its fingerprint so the operator can pin it
 *    (after comparing it with `/certificate print detail` on the router).
 * The check runs after the handshake and before a single byte is written, so a failed
 * one never sends the login (API) or the Authorization header (REST).
 */
export interface RouterOsTls {
  fingerprintSha256?: string | null;
  ca?: string | Buffer | null;
  insecure?: boolean;
}

/** A SHA-256 fingerprint as 64 lowercase hex digits (colons, spaces and case are accepted); null when it is not one. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.replace(/[\s:]/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

/** SHA-256 of a DER certificate, lowercase hex (what RouterOS's `/certificate print detail` shows as fingerprint). */
export function certificateFingerprint(der: Buffer): string {
  return createHash("sha256").update(der).digest("hex");
}

/** The policy's words for logs and errors. */
export function describeTls(tls: RouterOsTls): string {
  if (tls.fingerprintSha256) return "pinned certificate";
  if (tls.ca) return "CA file";
  if (tls.insecure) return "insecure (certificate not checked)";
  return "public CAs";
}

/** Checks a handshaken socket's peer against the policy: an error message, or null when it passes. */
function checkPeer(socket: TLSSocket, tls: RouterOsTls, where: string): string | null {
  const cert = socket.getPeerCertificate();
  const raw = (cert as { raw?: Buffer } | undefined)?.raw;
  const seen = raw ? certificateFingerprint(raw) : undefined;
  if (tls.fingerprintSha256) {
    const pin = normalizeFingerprint(tls.fingerprintSha256);
    if (!pin) return `${where}: tls_fingerprint is not a SHA-256 fingerprint (64 hex digits)`;
    if (!seen) return `${where}: the router presented no certificate`;
    if (!timingSafeEqual(Buffer.from(seen, "hex"), Buffer.from(pin, "hex"))) return `${where}: certificate fingerprint ${seen} does not match the pinned ${pin}`;
    return null;
  }
  if (tls.insecure) return null;
  if (!socket.authorized) {
    const why = String(socket.authorizationError ?? "not trusted");
    return `${where}: certificate not trusted by ${tls.ca ? "the CA file" : "the public CAs"} (${why})${seen ? `; its SHA-256 is ${seen}: pin it as tls_fingerprint if that is the router's` : ""}`;
  }
  return null;
}

/** Options for tls.connect: verification is ours (checkPeer), so Node's own rejection is off. */
function tlsConnectOptions(host: string, tls: RouterOsTls): { rejectUnauthorized: false; ca?: string | Buffer; servername?: string } {
  return {
    rejectUnauthorized: false,
    ...(tls.ca && !tls.fingerprintSha256 ? { ca: tls.ca } : {}),
    // SNI takes names only; an IP address is checked against the certificate's IP SANs.
    ...(isIP(host) ? {} : { servername: host }),
  };
}

/** Failed while the TLS handshake was running (the TCP connection was up): config, not the network. */
function handshakeError(where: string, err: Error): RouterOsError {
  const code = (err as { code?: string }).code;
  return new RouterOsError("tls", `${where}: TLS handshake failed: ${err.message || code || "connection closed"} (is TLS served on that port?)`);
}

/** A per-connection check node-routeros's Connector runs before its own onConnect (patched below). */
const tlsVerifier = Symbol("routerOsTlsVerifier");
type TlsVerifier = (socket: TLSSocket) => Error | null;

/** A trap message as our error codes (RouterOS wording, API and REST alike). */
function trapError(message: string): RouterOsError {
  if (/no such item/i.test(message)) return new RouterOsError("not-found", message);
  if (/already have|already exists/i.test(message)) return new RouterOsError("duplicate", message);
  return new RouterOsError("trap", message);
}

type Row = Record<string, string>;

/** The four primitives both transports provide; the adapter logic is written once on top. */
interface RosTransport {
  connect(): Promise<void>;
  close(): Promise<void>;
  print(menu: string, query: Record<string, string>): Promise<Row[]>;
  add(menu: string, attrs: Record<string, string>): Promise<string>;
  set(menu: string, id: string, attrs: Record<string, string>): Promise<void>;
  /** Clears a property back to "not set" (RouterOS `unset value-name=`). */
  unset(menu: string, id: string, property: string): Promise<void>;
  remove(menu: string, id: string): Promise<void>;
}

export interface RetryOptions {
  /** Tries per operation, reconnecting between them on transport failures. Default 3. */
  attemptsMax?: number;
  /** Wait before try n+1 is retryDelayMs * n. Default 200. */
  retryDelayMs?: number;
}

/** RouterOS stores a host address without its /32. */
function hostAddress(address: string): string {
  return address.endsWith("/32") ? address.slice(0, -3) : address;
}

const bool = (v: string | undefined): boolean => v === "true" || v === "yes";

class RosOperations implements RouterOsAdapter {
  private readonly attemptsMax: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly t: RosTransport,
    retry: RetryOptions,
  ) {
    this.attemptsMax = retry.attemptsMax ?? 3;
    this.retryDelayMs = retry.retryDelayMs ?? 200;
  }

  connect(): Promise<void> {
    return this.t.connect();
  }

  close(): Promise<void> {
    return this.t.close();
  }

  /** Runs a whole read-then-write operation again after a transport failure; safe because each is idempotent. */
  private async retrying<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (!(err instanceof RouterOsError) || !err.retryable || attempt >= this.attemptsMax) throw err;
        await new Promise((r) => setTimeout(r, this.retryDelayMs * attempt));
      }
    }
  }

  listActiveSessions(): Promise<PppActiveSession[]> {
    return this.retrying(async () =>
      (await this.t.print("/ppp/active", {})).map((r) => ({
        id: r[".id"] ?? "",
        name: r.name ?? "",
        address: r.address,
        callerId: r["caller-id"],
        sessionId: r["session-id"],
        uptime: r.uptime,
        service: r.service,
      })),
    );
  }

  removeActiveSession(by: { name: string } | { id: string }): Promise<{ removed: number }> {
    return this.retrying(async () => {
      const rows = await this.t.print("/ppp/active", "name" in by ? { name: by.name } : { ".id": by.id });
      let removed = 0;
      for (const r of rows) if (await this.removeIfPresent("/ppp/active", r[".id"]!)) removed++;
      return { removed };
    });
  }

  setQueueRate(name: string, rate: QueueRate, options: { target?: string; comment?: string } = {}): Promise<{ created: boolean; changed: boolean }> {
    const maxLimit = formatMaxLimit(rate);
    return this.retrying(async () => {
      const existing = (await this.t.print("/queue/simple", { name }))[0];
      if (existing) {
        const current = parseMaxLimit(existing["max-limit"] ?? "");
        if (current && current.uploadKbps === rate.uploadKbps && current.downloadKbps === rate.downloadKbps) return { created: false, changed: false };
        await this.t.set("/queue/simple", existing[".id"]!, { "max-limit": maxLimit });
        return { created: false, changed: true };
      }
      let target = options.target;
      if (!target) {
        const session = (await this.t.print("/ppp/active", { name }))[0];
        if (!session?.address) throw new RouterOsError("not-found", `no queue "${name}" and no active session to target`);
        target = `${session.address}/32`;
      }
      try {
        await this.t.add("/queue/simple", { name, target, "max-limit": maxLimit, ...(options.comment ? { comment: options.comment } : {}) });
        return { created: true, changed: true };
      } catch (err) {
        // Created by an earlier try whose reply was lost: bring it to the rate instead.
        if (!(err instanceof RouterOsError) || err.code !== "duplicate") throw err;
        const row = (await this.t.print("/queue/simple", { name }))[0];
        if (!row) throw err;
        await this.t.set("/queue/simple", row[".id"]!, { "max-limit": maxLimit });
        return { created: false, changed: true };
      }
    });
  }

  listQueues(): Promise<SimpleQueue[]> {
    return this.retrying(async () =>
      (await this.t.print("/queue/simple", {})).map((r) => ({
        id: r[".id"] ?? "",
        name: r.name ?? "",
        target: r.target ?? "",
        rate: parseMaxLimit(r["max-limit"] ?? ""),
        dynamic: bool(r.dynamic),
        disabled: bool(r.disabled),
      })),
    );
  }

  addToAddressList(list: string, address: string, comment?: string): Promise<{ added: boolean }> {
    const addr = hostAddress(address);
    return this.retrying(async () => {
      if ((await this.t.print("/ip/firewall/address-list", { list, address: addr })).length) return { added: false };
      try {
        await this.t.add("/ip/firewall/address-list", { list, address: addr, ...(comment ? { comment } : {}) });
        return { added: true };
      } catch (err) {
        if (err instanceof RouterOsError && err.code === "duplicate") return { added: false };
        throw err;
      }
    });
  }

  removeFromAddressList(list: string, address: string): Promise<{ removed: number }> {
    const addr = hostAddress(address);
    return this.retrying(async () => {
      let removed = 0;
      for (const r of await this.t.print("/ip/firewall/address-list", { list, address: addr })) {
        if (await this.removeIfPresent("/ip/firewall/address-list", r[".id"]!)) removed++;
      }
      return { removed };
    });
  }

  listAddressList(list?: string): Promise<AddressListEntry[]> {
    return this.retrying(async () =>
      (await this.t.print("/ip/firewall/address-list", list === undefined ? {} : { list })).map((r) => ({
        id: r[".id"] ?? "",
        list: r.list ?? "",
        address: r.address ?? "",
        comment: r.comment ?? "",
        dynamic: bool(r.dynamic),
      })),
    );
  }

  syncSecret(name: string, spec: SecretSpec): Promise<{ created: boolean; changed: boolean; fields: string[] }> {
    const desired: Record<string, string> = { password: spec.password, profile: spec.profile, disabled: spec.disabled ? "true" : "false", service: spec.service ?? "pppoe" };
    if (spec.comment !== undefined) desired.comment = spec.comment;
    const address = spec.remoteAddress ? hostAddress(spec.remoteAddress) : null;
    if (address) desired["remote-address"] = address;
    /** Brings an existing secret to the spec: set what differs, unset a remote-address it should not have. */
    const converge = async (existing: Row): Promise<string[]> => {
      const diff = Object.fromEntries(Object.entries(desired).filter(([k, v]) => (k === "disabled" ? bool(existing[k]) !== spec.disabled : (existing[k] ?? "") !== v)));
      const fields = Object.keys(diff);
      if (fields.length) await this.t.set("/ppp/secret", existing[".id"]!, diff);
      if (!address && existing["remote-address"]) {
        await this.t.unset("/ppp/secret", existing[".id"]!, "remote-address");
        fields.push("remote-address");
      }
      return fields;
    };
    return this.retrying(async () => {
      const existing = (await this.t.print("/ppp/secret", { name }))[0];
      if (existing) {
        const fields = await converge(existing);
        return { created: false, changed: fields.length > 0, fields };
      }
      try {
        await this.t.add("/ppp/secret", { name, ...desired });
        return { created: true, changed: true, fields: [] };
      } catch (err) {
        // Created by an earlier try whose reply was lost: converge instead.
        if (!(err instanceof RouterOsError) || err.code !== "duplicate") throw err;
        const row = (await this.t.print("/ppp/secret", { name }))[0];
        if (!row) throw err;
        const fields = await converge(row);
        return { created: false, changed: fields.length > 0, fields };
      }
    });
  }

  listSecrets(): Promise<PppSecret[]> {
    return this.retrying(async () =>
      (await this.t.print("/ppp/secret", {})).map((r) => ({
        id: r[".id"] ?? "",
        name: r.name ?? "",
        password: r.password ?? "",
        profile: r.profile ?? "",
        service: r.service ?? "",
        disabled: bool(r.disabled),
        remoteAddress: r["remote-address"] || undefined,
        comment: r.comment ?? "",
      })),
    );
  }

  removeSecret(name: string): Promise<{ removed: number }> {
    return this.retrying(async () => {
      let removed = 0;
      for (const r of await this.t.print("/ppp/secret", { name })) if (await this.removeIfPresent("/ppp/secret", r[".id"]!)) removed++;
      return { removed };
    });
  }

  private async removeIfPresent(menu: string, id: string): Promise<boolean> {
    try {
      await this.t.remove(menu, id);
      return true;
    } catch (err) {
      if (err instanceof RouterOsError && err.code === "not-found") return false;
      throw err;
    }
  }
}

// ---------------------------------------------------------------- node-routeros transport

export interface NodeRouterOsAdapterOptions extends RetryOptions {
  host: string;
  /** Default 8728, or 8729 (api-ssl) with `tls`. */
  port?: number;
  /** api-ssl: TLS with this certificate policy (see RouterOsTls); absent: clear text. */
  tls?: RouterOsTls;
  user: string;
  password: string;
  /** Connect plus login. Default 5000. */
  connectTimeoutMs?: number;
  /** One command's reply. Default 5000. */
  commandTimeoutMs?: number;
  /**
   * node-routeros closes a connection idle this long (its `timeout`, whole seconds);
   * the next operation reconnects. Default 60.
   */
  idleTimeoutS?: number;
  /** Commands outstanding on the connection at once. Default 8. */
  commandsInFlightMax?: number;
}

export interface NodeRouterOsAdapterStats {
  connects: number;
  disconnects: number;
  commands: number;
  timeouts: number;
}

let nodeRouterOsPatched = false;

/**
 * node-routeros throws from inside its socket handler (an uncaught exception that would
 * take the collector down) on a reply word it does not know, such as the `!empty` that
 * RouterOS 7.18+ sends for an empty print, and on a reply for a tag nobody waits for
 * any more. Patched once: `!empty` completes the command with no rows, an unknown word
 * becomes a trap, a stray tag is dropped.
 */
function patchNodeRouterOs(): void {
  if (nodeRouterOsPatched) return;
  nodeRouterOsPatched = true;
  type ChannelInternals = { emit(event: string, ...args: unknown[]): boolean; data?: unknown[] };
  const channel = Channel.prototype as unknown as { onUnknown(this: ChannelInternals, reply: string): void };
  channel.onUnknown = function (reply: string) {
    if (reply === "!empty") this.emit("done", this.data ?? []);
    else this.emit("trap", { message: `unknown reply ${reply}` });
  };
  // api-ssl: the library calls onConnect from tls.connect's secureConnect and then logs in
  // at once; our check of the router's certificate goes first, and a failure ends the
  // connection as an error before the login is written.
  type ConnectorInternals = { tls?: Record<symbol, unknown>; socket?: TLSSocket; onError(err: Error): void };
  const connector = Connector.prototype as unknown as { onConnect(this: ConnectorInternals): void };
  const onConnect = connector.onConnect;
  connector.onConnect = function () {
    const verify = this.tls?.[tlsVerifier] as TlsVerifier | undefined;
    const problem = verify && this.socket ? verify(this.socket) : null;
    if (problem) this.onError(problem);
    else onConnect.call(this);
  };
  const receiver = Receiver.prototype as unknown as { sendTagData(this: { cleanUp(): void }, tag: string): void };
  const original = receiver.sendTagData;
  receiver.sendTagData = function (tag: string) {
    try {
      original.call(this, tag);
    } catch {
      this.cleanUp();
    }
  };
}

class NodeRouterOsTransport implements RosTransport {
  readonly stats: NodeRouterOsAdapterStats = { connects: 0, disconnects: 0, commands: 0, timeouts: 0 };
  private api: RouterOSAPI | undefined;
  private connecting: Promise<RouterOSAPI> | undefined;
  private readonly pending = new Set<(err: RouterOsError) => void>();
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly o: NodeRouterOsAdapterOptions) {
    patchNodeRouterOs();
  }

  async connect(): Promise<void> {
    await this.live();
  }

  async close(): Promise<void> {
    const api = this.api;
    this.drop(new RouterOsError("closed", "adapter closed"), false);
    if (api) await Promise.race([api.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    destroyApi(api);
  }

  private live(): Promise<RouterOSAPI> {
    if (this.api) return Promise.resolve(this.api);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<RouterOSAPI> {
    const tls = this.o.tls;
    const port = this.o.port ?? (tls ? 8729 : 8728);
    const where = `${this.o.host}:${port}`;
    let tlsFailure: RouterOsError | undefined;
    let tcpUp = false;
    let secure = false;
    const verify: TlsVerifier = (socket) => {
      const problem = checkPeer(socket, tls ?? {}, where);
      if (problem === null) {
        secure = true;
        return null;
      }
      tlsFailure = new RouterOsError("tls", problem);
      return new Error(problem);
    };
    // tls.connect ignores the extra symbol key; the patched Connector.onConnect reads it.
    const tlsOptions = tls ? ({ ...tlsConnectOptions(this.o.host, tls), [tlsVerifier]: verify } as TlsOptions) : undefined;
    const api = new RouterOSAPI({
      host: this.o.host,
      port,
      user: this.o.user,
      password: this.o.password,
      timeout: this.o.idleTimeoutS ?? 60,
      keepalive: false,
      ...(tlsOptions ? { tls: tlsOptions } : {}),
    });
    // Without these the library's EventEmitter throws on a connection error.
    const lost = (): void => {
      if (this.api !== api) return;
      this.stats.disconnects++;
      this.drop(new RouterOsError("closed", "connection lost"));
    };
    api.on("error", lost);
    api.on("close", lost);
    const timeoutMs = this.o.connectTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const connecting = api.connect();
      if (tls) {
        // The socket exists once connect() returns; a failure after TCP is up and before
        // the handshake passed is TLS's (a plain-text port, no common protocol, a reset).
        const socket = (api as unknown as { connector?: { socket?: TLSSocket } }).connector?.socket;
        socket?.once("connect", () => (tcpUp = true));
        socket?.on("error", (err: Error) => {
          if (tcpUp && !secure) tlsFailure ??= handshakeError(where, err);
        });
        socket?.once("close", () => {
          if (tcpUp && !secure) tlsFailure ??= handshakeError(where, new Error("connection closed during the handshake"));
        });
      }
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // Stays retryable (a slow link looks the same), but says where it stalled.
            const stage = tls && tcpUp && !secure ? ` during the TLS handshake (is api-ssl served on port ${port}?)` : "";
            reject(new RouterOsError("connect", `connect to ${this.o.host} timed out after ${timeoutMs} ms${stage}`));
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      destroyApi(api);
      if (tlsFailure) throw tlsFailure;
      if (err instanceof RouterOsError) throw err;
      const e = err as { errno?: string; message?: string } | string;
      const text = typeof e === "string" ? e : (e.message ?? e.errno ?? "unknown");
      if (typeof e === "object" && (e.errno === "CANTLOGIN" || /log in|password/i.test(text))) throw new RouterOsError("login", `login to ${this.o.host} refused: ${text}`);
      throw new RouterOsError("connect", `connect to ${this.o.host}: ${text}`);
    } finally {
      clearTimeout(timer);
    }
    // The library writes each word separately; without this, Nagle holds them back ~40 ms.
    (api as unknown as { connector?: { socket?: { setNoDelay(on: boolean): void } } }).connector?.socket?.setNoDelay(true);
    this.stats.connects++;
    this.api = api;
    return api;
  }

  /** Forgets the connection and fails whatever waits on it. */
  private drop(err: RouterOsError, destroy = true): void {
    const api = this.api;
    this.api = undefined;
    for (const reject of [...this.pending]) reject(err);
    this.pending.clear();
    if (destroy) destroyApi(api);
  }

  private async command(words: string[]): Promise<Row[]> {
    if (this.inFlight >= (this.o.commandsInFlightMax ?? 8)) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      const api = await this.live();
      this.stats.commands++;
      const timeoutMs = this.o.commandTimeoutMs ?? 5000;
      return await new Promise<Row[]>((resolve, reject) => {
        const fail = (err: RouterOsError): void => {
          clearTimeout(timer);
          this.pending.delete(fail);
          reject(err);
        };
        const timer = setTimeout(() => {
          this.stats.timeouts++;
          // The reply may still come, for a command that did run; the connection is
          // abandoned so no late answer is mistaken for the next one's.
          if (this.api === api) this.drop(new RouterOsError("timeout", `${words[0]} timed out after ${timeoutMs} ms`));
          fail(new RouterOsError("timeout", `${words[0]} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        this.pending.add(fail);
        api.write(words[0]!, words.slice(1)).then(
          (rows) => {
            clearTimeout(timer);
            this.pending.delete(fail);
            resolve(rows as Row[]);
          },
          (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            fail(trapError(message));
          },
        );
      });
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  print(menu: string, query: Record<string, string>): Promise<Row[]> {
    return this.command([`${menu}/print`, ...Object.entries(query).map(([k, v]) => `?${k}=${v}`)]);
  }

  async add(menu: string, attrs: Record<string, string>): Promise<string> {
    const rows = await this.command([`${menu}/add`, ...Object.entries(attrs).map(([k, v]) => `=${k}=${v}`)]);
    return rows[0]?.ret ?? "";
  }

  async set(menu: string, id: string, attrs: Record<string, string>): Promise<void> {
    await this.command([`${menu}/set`, `=.id=${id}`, ...Object.entries(attrs).map(([k, v]) => `=${k}=${v}`)]);
  }

  async unset(menu: string, id: string, property: string): Promise<void> {
    await this.command([`${menu}/unset`, `=.id=${id}`, `=value-name=${property}`]);
  }

  async remove(menu: string, id: string): Promise<void> {
    await this.command([`${menu}/remove`, `=.id=${id}`]);
  }
}

function destroyApi(api: RouterOSAPI | undefined): void {
  // close() waits for a clean socket end that a dead peer never sends; destroy instead.
  const connector = (api as unknown as { connector?: { destroy(): void } | null } | undefined)?.connector;
  try {
    connector?.destroy();
  } catch {
    // already gone
  }
}

export class NodeRouterOsAdapter extends RosOperations {
  private readonly transport: NodeRouterOsTransport;

  constructor(options: NodeRouterOsAdapterOptions) {
    const transport = new NodeRouterOsTransport(options);
    super(transport, options);
    this.transport = transport;
  }

  get stats(): NodeRouterOsAdapterStats {
    return this.transport.stats;
  }
}

// ---------------------------------------------------------------- REST transport

export interface RestRouterOsAdapterOptions extends RetryOptions {
  /** e.g. "https://10.0.0.1" or "http://127.0.0.1:8080"; /rest is appended. */
  baseUrl: string;
  user: string;
  password: string;
  /** One request. Default 5000. */
  requestTimeoutMs?: number;
  /** Certificate policy for an https:// baseUrl (see RouterOsTls); absent = public CAs. */
  tls?: RouterOsTls;
  /** Sockets kept open to the router (keep-alive). Default 4. */
  socketsMax?: number;
  /** A reply larger than this is refused. Default 32 MiB. */
  responseBytesMax?: number;
}

/**
 * An https agent whose connections are only handed to a request once the router's
 * certificate passed checkPeer: the request (and its Authorization header) is written
 * after that. Kept-alive sockets were checked when they were opened.
 */
class CheckedHttpsAgent extends HttpsAgent {
  constructor(
    private readonly policy: RouterOsTls,
    socketsMax: number,
  ) {
    super({ keepAlive: true, maxSockets: socketsMax, maxFreeSockets: socketsMax });
  }

  override createConnection(options: HttpsRequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = options.host ?? "localhost";
    const port = Number(options.port ?? 443);
    const where = `${host}:${port}`;
    const socket = tlsConnect({ host, port, ...tlsConnectOptions(host, this.policy) });
    let done = false;
    let tcpUp = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      // onError stays attached (a no-op from now on): the request adds its own listener a tick later.
      if (err) socket.destroy();
      callback?.(err, socket);
    };
    const onError = (err: Error): void => finish(tcpUp ? handshakeError(where, err) : err);
    socket.once("connect", () => (tcpUp = true));
    socket.on("error", onError);
    socket.once("close", () => finish(tcpUp ? handshakeError(where, new Error("connection closed during the handshake")) : new Error("connection closed")));
    socket.once("secureConnect", () => {
      const problem = checkPeer(socket, this.policy, where);
      finish(problem === null ? null : new RouterOsError("tls", problem));
    });
    return undefined;
  }
}

class RestTransport implements RosTransport {
  private readonly auth: string;
  private readonly base: URL;
  private readonly agent: HttpAgent;

  constructor(private readonly o: RestRouterOsAdapterOptions) {
    this.auth = "Basic " + Buffer.from(`${o.user}:${o.password}`).toString("base64");
    this.base = new URL(o.baseUrl);
    const socketsMax = o.socketsMax ?? 4;
    if (this.base.protocol === "https:") this.agent = new CheckedHttpsAgent(o.tls ?? {}, socketsMax);
    else this.agent = new HttpAgent({ keepAlive: true, maxSockets: socketsMax, maxFreeSockets: socketsMax });
  }

  async connect(): Promise<void> {
    if (this.o.tls && this.base.protocol !== "https:") {
      throw new RouterOsError("tls", `TLS is required for ${this.base.host} but rest_url is ${this.base.protocol}// (use https://)`);
    }
    await this.request("GET", "/system/resource");
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    if (this.o.tls && this.base.protocol !== "https:") {
      return Promise.reject(new RouterOsError("tls", `TLS is required for ${this.base.host} but rest_url is ${this.base.protocol}// (use https://)`));
    }
    const timeoutMs = this.o.requestTimeoutMs ?? 5000;
    const bytesMax = this.o.responseBytesMax ?? 32 * 1024 * 1024;
    const url = new URL(`${this.base.pathname.replace(/\/$/, "")}/rest${path}`, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const send = this.base.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(url, {
        method,
        agent: this.agent,
        headers: { authorization: this.auth, ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}) },
      });
      const timer = setTimeout(() => req.destroy(new RouterOsError("timeout", `${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on("error", (err: Error) => {
        clearTimeout(timer);
        if (err instanceof RouterOsError) reject(err);
        else reject(new RouterOsError("connect", `${method} ${path}: ${err.message || (err as { code?: string }).code || "failed"}`));
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
          if (bytes > bytesMax) {
            req.destroy(new RouterOsError("trap", `${method} ${path}: reply over ${bytesMax} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", () => undefined); // req's error handler reports it
      });
      req.end(payload);
    }).then(({ status, text }) => {
      if (status === 401) throw new RouterOsError("login", `REST login refused (${status})`);
      if (status < 200 || status > 299) {
        let detail = text;
        try {
          const j = JSON.parse(text) as { detail?: string; message?: string };
          detail = j.detail ?? j.message ?? text;
        } catch {
          // not JSON: keep the text
        }
        if (status === 404) throw new RouterOsError("not-found", detail || "Not Found");
        if (status >= 500) throw new RouterOsError("closed", `${method} ${path}: ${status} ${detail}`);
        throw trapError(detail);
      }
      return text ? (JSON.parse(text) as unknown) : undefined;
    });
  }

  async print(menu: string, query: Record<string, string>): Promise<Row[]> {
    const body = { ".query": Object.entries(query).map(([k, v]) => `${k}=${v}`) };
    const rows = await this.request("POST", `${menu}/print`, body);
    return Array.isArray(rows) ? (rows as Row[]) : [];
  }

  async add(menu: string, attrs: Record<string, string>): Promise<string> {
    const r = (await this.request("PUT", menu, attrs)) as Row | undefined;
    return r?.[".id"] ?? "";
  }

  async set(menu: string, id: string, attrs: Record<string, string>): Promise<void> {
    await this.request("PATCH", `${menu}/${encodeURIComponent(id)}`, attrs);
  }

  async unset(menu: string, id: string, property: string): Promise<void> {
    // RouterOS 7 REST: any console command as POST /rest/<menu>/<command>.
    await this.request("POST", `${menu}/unset`, { ".id": id, "value-name": property });
  }

  async remove(menu: string, id: string): Promise<void> {
    await this.request("DELETE", `${menu}/${encodeURIComponent(id)}`);
  }
}

export class RestRouterOsAdapter extends RosOperations {
  constructor(options: RestRouterOsAdapterOptions) {
    super(new RestTransport(options), options);
  }
}
