// The in-memory configuration of a simulated RouterOS device, shared by the API server
// (api-server.ts), the REST server (rest-server.ts) and the RouterSimulator. Menus hold
// records keyed by `.id` ("*1A"), as RouterOS does; /ppp/active is not stored here but
// read from and acted on through a PppActiveSource (the simulator's live sessions).
import { EventEmitter } from "node:events";
import { parseRateKbps } from "../radius/rate-limit";

export type RosRecord = Record<string, string> & { ".id": string };

/** A failure RouterOS reports as `!trap` (API) or an HTTP error (REST). */
export class RosCommandError extends Error {
  constructor(
    message: string,
    readonly kind: "not-found" | "bad-request" | "no-such-command",
  ) {
    super(message);
    this.name = "RosCommandError";
  }
}

export interface PppActiveSource {
  /** The live sessions as /ppp/active records (`.id`, name, address, caller-id, session-id, ...). */
  list(): RosRecord[];
  /** Ends the session with that `.id` (sending Accounting-Stop); false when there is none. */
  remove(id: string): boolean;
}

export interface RouterStateEvents {
  /** A simple queue was added or changed (max-limit may be new). */
  "queue-change": [RosRecord];
  "address-list-change": [{ op: "add" | "remove"; record: RosRecord }];
  "secret-change": [{ op: "add" | "set" | "remove"; record: RosRecord }];
}

interface MenuSpec {
  /** Fields a new record gets when not given. */
  defaults: Record<string, string>;
  /** Field that must be unique (and by which `numbers`/`.id` may name a record). */
  uniqueBy?: (r: Record<string, string>) => string | undefined;
  duplicateMessage?: string;
  required?: string[];
  /** Entries created by the router itself (dynamic=true) cannot be set or removed. */
  readOnlyDynamic?: boolean;
}

const MENUS: Record<string, MenuSpec> = {
  "/queue/simple": {
    defaults: { target: "", "max-limit": "0/0", disabled: "false", dynamic: "false", comment: "" },
    uniqueBy: (r) => r.name,
    duplicateMessage: "failure: already have such name",
    required: ["name"],
    readOnlyDynamic: true,
  },
  "/ip/firewall/address-list": {
    defaults: { comment: "", disabled: "false", dynamic: "false", timeout: "" },
    uniqueBy: (r) => (r.list === undefined || r.address === undefined ? undefined : `${r.list}\u0000${r.address}`),
    duplicateMessage: "failure: already have such entry",
    required: ["list", "address"],
  },
  "/ppp/secret": {
    defaults: { service: "any", profile: "default", disabled: "false", comment: "", password: "" },
    uniqueBy: (r) => r.name,
    duplicateMessage: "failure: secret with the same name already exists",
    required: ["name"],
  },
};

/** Records a menu holds at most; beyond it add fails like a full router would. */
export const MENU_RECORDS_MAX = 100_000;

export interface RouterStateOptions {
  /** API/REST logins: name -> password. Default admin with an empty password. */
  users?: Record<string, string>;
  identity?: string;
  version?: string;
}

export class RouterState extends EventEmitter<RouterStateEvents> {
  readonly users: Map<string, string>;
  readonly identity: string;
  readonly version: string;
  readonly bootedAt = Date.now();
  ppp: PppActiveSource = { list: () => [], remove: () => false };
  private nextId = 1;
  private readonly tables = new Map<string, Map<string, RosRecord>>(Object.keys(MENUS).map((k) => [k, new Map()]));
  /** Per menu: unique key -> `.id`, so duplicate checks stay O(1) with 10k+ dynamic queues. */
  private readonly unique = new Map<string, Map<string, string>>(Object.keys(MENUS).map((k) => [k, new Map()]));

  constructor(options: RouterStateOptions = {}) {
    super();
    this.users = new Map(Object.entries(options.users ?? { admin: "" }));
    this.identity = options.identity ?? "MikroTik";
    this.version = options.version ?? "7.16.2 (stable)";
  }

  /** A fresh `.id`; RouterOS ids are `*` and uppercase hex, never reused while running. */
  allocateId(): string {
    return `*${(this.nextId++).toString(16).toUpperCase()}`;
  }

  /** Menus this state answers ("/queue/simple", ..., "/ppp/active", "/system/resource"). */
  static readonly menus = [...Object.keys(MENUS), "/ppp/active", "/system/resource"];

  print(menu: string): RosRecord[] {
    if (menu === "/ppp/active") return this.ppp.list();
    if (menu === "/system/resource") return [this.resource()];
    return [...this.table(menu).values()].map((r) => ({ ...r }));
  }

  add(menu: string, input: Record<string, string>, options: { dynamic?: boolean } = {}): string {
    const spec = MENUS[menu];
    // RouterOS stores a host address without its /32.
    const attrs = menu === "/ip/firewall/address-list" && input.address?.endsWith("/32") ? { ...input, address: input.address.slice(0, -3) } : input;
    const table = this.table(menu);
    if (!spec) throw new RosCommandError("no such command", "no-such-command");
    for (const f of spec.required ?? []) if (!attrs[f]) throw new RosCommandError(`failure: ${f} not specified`, "bad-request");
    if (".id" in attrs) throw new RosCommandError("unknown parameter .id", "bad-request");
    const key = spec.uniqueBy?.(attrs);
    const index = this.unique.get(menu)!;
    if (key !== undefined && index.has(key)) throw new RosCommandError(spec.duplicateMessage ?? "failure: already have such item", "bad-request");
    if (table.size >= MENU_RECORDS_MAX) throw new RosCommandError("failure: too many entries", "bad-request");
    const id = this.allocateId();
    const record: RosRecord = { ".id": id, ...spec.defaults, ...attrs, dynamic: options.dynamic ? "true" : "false" };
    if (menu === "/ip/firewall/address-list") record["creation-time"] = new Date().toISOString();
    table.set(id, record);
    if (key !== undefined) index.set(key, id);
    this.changed(menu, "add", record);
    return id;
  }

  set(menu: string, idOrName: string, attrs: Record<string, string>, options: { internal?: boolean } = {}): RosRecord {
    const spec = MENUS[menu];
    if (!spec) throw new RosCommandError("no such command", "no-such-command");
    const record = this.resolve(menu, idOrName);
    if (spec.readOnlyDynamic && record.dynamic === "true" && !options.internal) throw new RosCommandError("failure: cannot change dynamic", "bad-request");
    const next = { ...record, ...attrs, ".id": record[".id"] } as RosRecord;
    const index = this.unique.get(menu)!;
    const oldKey = spec.uniqueBy?.(record);
    const key = spec.uniqueBy?.(next);
    if (key !== undefined && key !== oldKey && index.has(key)) throw new RosCommandError(spec.duplicateMessage ?? "failure: already have such item", "bad-request");
    if (oldKey !== undefined) index.delete(oldKey);
    if (key !== undefined) index.set(key, record[".id"]);
    this.table(menu).set(record[".id"], next);
    this.changed(menu, "set", next);
    return next;
  }

  /** RouterOS `unset value-name=`: the property goes back to its default, or away when it has none. */
  unset(menu: string, idOrName: string, property: string): RosRecord {
    const spec = MENUS[menu];
    if (!spec) throw new RosCommandError("no such command", "no-such-command");
    if (!property || property === ".id" || property === "name" || spec.required?.includes(property)) throw new RosCommandError(`failure: cannot unset ${property || "nothing"}`, "bad-request");
    const record = this.resolve(menu, idOrName);
    if (spec.readOnlyDynamic && record.dynamic === "true") throw new RosCommandError("failure: cannot change dynamic", "bad-request");
    const next = { ...record } as RosRecord;
    const fallback = spec.defaults[property];
    if (fallback === undefined) delete next[property];
    else next[property] = fallback;
    this.table(menu).set(record[".id"], next);
    this.changed(menu, "set", next);
    return next;
  }

  remove(menu: string, idOrName: string, options: { internal?: boolean } = {}): void {
    if (menu === "/ppp/active") {
      const target = this.ppp.list().find((r) => r[".id"] === idOrName || r.name === idOrName);
      if (!target || !this.ppp.remove(target[".id"])) throw new RosCommandError("no such item", "not-found");
      return;
    }
    const spec = MENUS[menu];
    if (!spec) throw new RosCommandError("no such command", "no-such-command");
    const record = this.resolve(menu, idOrName);
    if (spec.readOnlyDynamic && record.dynamic === "true" && !options.internal) throw new RosCommandError("failure: cannot remove dynamic", "bad-request");
    this.table(menu).delete(record[".id"]);
    const key = spec.uniqueBy?.(record);
    if (key !== undefined) this.unique.get(menu)!.delete(key);
    this.changed(menu, "remove", record);
  }

  /** By `.id`, or by name on menus whose records have one (as `numbers=` accepts on RouterOS). */
  resolve(menu: string, idOrName: string): RosRecord {
    const table = this.table(menu);
    const byId = table.get(idOrName);
    if (byId) return byId;
    if (!idOrName.startsWith("*") && menu !== "/ip/firewall/address-list") {
      const id = this.unique.get(menu)?.get(idOrName);
      const r = id === undefined ? undefined : table.get(id);
      if (r) return r;
    }
    throw new RosCommandError("no such item", "not-found");
  }

  private table(menu: string): Map<string, RosRecord> {
    const t = this.tables.get(menu);
    if (!t) throw new RosCommandError("no such command", "no-such-command");
    return t;
  }

  private changed(menu: string, op: "add" | "set" | "remove", record: RosRecord): void {
    if (menu === "/queue/simple" && op !== "remove") this.emit("queue-change", { ...record });
    else if (menu === "/ip/firewall/address-list" && op !== "set") this.emit("address-list-change", { op, record: { ...record } });
    else if (menu === "/ppp/secret") this.emit("secret-change", { op, record: { ...record } });
  }

  private resource(): RosRecord {
    const up = Math.floor((Date.now() - this.bootedAt) / 1000);
    return {
      ".id": "*0",
      uptime: `${Math.floor(up / 3600)}h${Math.floor((up % 3600) / 60)}m${up % 60}s`,
      version: this.version,
      "board-name": "CCR2004-1G-12S+2XS",
      "architecture-name": "arm64",
      platform: "MikroTik",
      "cpu-count": "4",
      "cpu-load": "3",
      "free-memory": "3758096384",
      "total-memory": "4294967296",
    };
  }
}

/** RouterOS `max-limit` ("upload/download" in bits/s, or with k/M/G) -> kbps, as target upload/download. */
export function parseMaxLimit(value: string): { uploadKbps: number; downloadKbps: number } | undefined {
  const [up, down] = value.split("/");
  // Same unit rules as Mikrotik-Rate-Limit, so a CoA rate and a queue rate compare equal.
  const k = (x: string | undefined): number | undefined => (x === undefined ? undefined : parseRateKbps(x));
  const uploadKbps = k(up);
  const downloadKbps = k(down ?? up);
  if (uploadKbps === undefined || downloadKbps === undefined) return undefined;
  return { uploadKbps, downloadKbps };
}

/** kbps -> the bits/s form RouterOS prints ("2000000/10000000"). */
export function formatMaxLimit(rate: { uploadKbps: number; downloadKbps: number }): string {
  return `${rate.uploadKbps * 1000}/${rate.downloadKbps * 1000}`;
}
