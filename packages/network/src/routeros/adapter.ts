// What enforcement and reconciliation ask of a MikroTik router beyond RADIUS CoA, behind one
// interface with two transports: the binary API (TCP 8728, through `node-routeros`, which
// is unmaintained upstream and so never leaks past this file) and the RouterOS 7 REST API.
// Every operation reads before it writes, so replaying it (after a timeout whose reply was
// lost, a reconnect, a retried outbox row) never leaves a duplicate entry or queue.
import { Channel, Receiver, RouterOSAPI } from "node-routeros";
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

export type RouterOsErrorCode = "connect" | "login" | "timeout" | "closed" | "not-found" | "duplicate" | "trap";

export class RouterOsError extends Error {
  constructor(
    readonly code: RouterOsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RouterOsError";
  }

  /** Transport failures: the operation may be retried on a fresh connection. */
  get retryable(): boolean {
    return this.code === "connect" || this.code === "timeout" || this.code === "closed";
  }
}

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
  /** Default 8728. */
  port?: number;
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
    const api = new RouterOSAPI({
      host: this.o.host,
      port: this.o.port ?? 8728,
      user: this.o.user,
      password: this.o.password,
      timeout: this.o.idleTimeoutS ?? 60,
      keepalive: false,
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
      await Promise.race([
        api.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RouterOsError("connect", `connect to ${this.o.host} timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      destroyApi(api);
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
}

class RestTransport implements RosTransport {
  private readonly auth: string;

  constructor(private readonly o: RestRouterOsAdapterOptions) {
    this.auth = "Basic " + Buffer.from(`${o.user}:${o.password}`).toString("base64");
  }

  async connect(): Promise<void> {
    await this.request("GET", "/system/resource");
  }

  async close(): Promise<void> {
    // Stateless; fetch's keep-alive pool closes idle sockets itself.
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const timeoutMs = this.o.requestTimeoutMs ?? 5000;
    let res: Response;
    try {
      res = await fetch(`${this.o.baseUrl.replace(/\/$/, "")}/rest${path}`, {
        method,
        headers: { authorization: this.auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      if (e.name === "TimeoutError") throw new RouterOsError("timeout", `${method} ${path} timed out after ${timeoutMs} ms`);
      throw new RouterOsError("connect", `${method} ${path}: ${(e.cause as Error | undefined)?.message ?? e.message}`);
    }
    const text = await res.text().catch(() => "");
    if (res.status === 401) throw new RouterOsError("login", `REST login refused (${res.status})`);
    if (!res.ok) {
      let detail = text;
      try {
        const j = JSON.parse(text) as { detail?: string; message?: string };
        detail = j.detail ?? j.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      if (res.status === 404) throw new RouterOsError("not-found", detail || "Not Found");
      if (res.status >= 500) throw new RouterOsError("closed", `${method} ${path}: ${res.status} ${detail}`);
      throw trapError(detail);
    }
    return text ? (JSON.parse(text) as unknown) : undefined;
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
