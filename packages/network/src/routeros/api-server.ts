// A RouterOS API server (TCP, the protocol of protocol.ts) over a RouterState: what the
// simulator serves so `node-routeros` and our adapters talk to it as to a real router.
// Login is the post-6.43 plain form (`/login =name= =password=`) or, with legacyLogin, the
// MD5 challenge of older releases. Commands run to completion at once, so a reply (all its
// `!re` and the final `!done`) goes out in one write.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { encodeSentence, RosProtocolError, SentenceDecoder, tagOf, type DecoderLimits } from "./protocol";
import { RosCommandError, RouterState, type RosRecord } from "./state";

export interface RouterOsApiServerOptions {
  state: RouterState;
  host?: string;
  /** 0 = ephemeral; see start()'s result. */
  port: number;
  /** Answer `/login` with a challenge (`=ret=`) as RouterOS before 6.43 did. */
  legacyLogin?: boolean;
  /** api-ssl: serve TLS with this key and certificate (PEM); absent: clear text. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Default 64. Connections beyond it are closed at once. */
  connectionsMax?: number;
  /** A client that does not read its replies is cut off past this many queued bytes. Default 8 MiB. */
  writeBufferBytesMax?: number;
  limits?: DecoderLimits;
  /** Answer a print with no rows `!empty` then `!done`, as RouterOS 7.18+ does. Default false. */
  emptyReplies?: boolean;
  /** Fault injection for tests; never set in a real deployment. */
  faults?: {
    /** Run the command, then send half of its reply and close the connection. */
    cutReplyMidSentence?: (command: string, attrs: Record<string, string>) => boolean;
    /** Run the command and never answer (the client must time out). */
    swallowReply?: (command: string, attrs: Record<string, string>) => boolean;
  };
}

export interface RouterOsApiServerStats {
  connections: number;
  logins: number;
  loginFailures: number;
  commands: number;
  traps: number;
  protocolErrors: number;
  rejectedConnections: number;
  faultsInjected: number;
  internalErrors: number;
  /** TLS handshakes that failed (a client that refused our certificate, a plain-text client). */
  tlsErrors: number;
}

export interface RouterOsApiServer {
  start(): Promise<number>;
  stop(): Promise<void>;
  readonly port: number;
  readonly stats: RouterOsApiServerStats;
}

interface Conn {
  socket: Socket;
  decoder: SentenceDecoder;
  user: string | undefined;
  challenge: Buffer | undefined;
}

type Reply = string[][];

export function createRouterOsApiServer(options: RouterOsApiServerOptions): RouterOsApiServer {
  const { state } = options;
  const connectionsMax = options.connectionsMax ?? 64;
  const writeBufferBytesMax = options.writeBufferBytesMax ?? 8 * 1024 * 1024;
  const stats: RouterOsApiServerStats = { connections: 0, logins: 0, loginFailures: 0, commands: 0, traps: 0, protocolErrors: 0, rejectedConnections: 0, faultsInjected: 0, internalErrors: 0, tlsErrors: 0 };
  const conns = new Set<Conn>();
  let server: Server | undefined;
  let boundPort = 0;

  const send = (c: Conn, reply: Reply): void => {
    if (c.socket.destroyed) return;
    c.socket.write(Buffer.concat(reply.map((s) => encodeSentence(s))));
    if (c.socket.writableLength > writeBufferBytesMax) c.socket.destroy();
  };

  const onSentence = (c: Conn, words: string[]): void => {
    const command = words[0]!;
    const tag = tagOf(words);
    const t = (s: string[]): string[] => (tag === undefined ? s : [...s, `.tag=${tag}`]);
    const attrs: Record<string, string> = {};
    const queries: string[] = [];
    for (const w of words.slice(1)) {
      if (w.startsWith("=")) {
        const eq = w.indexOf("=", 1);
        if (eq < 0) attrs[w.slice(1)] = "";
        else attrs[w.slice(1, eq)] = w.slice(eq + 1);
      } else if (w.startsWith("?")) queries.push(w.slice(1));
    }
    stats.commands++;
    const trap = (message: string, category?: number): Reply => {
      stats.traps++;
      return [t(category === undefined ? ["!trap", `=message=${message}`] : ["!trap", `=category=${category}`, `=message=${message}`]), t(["!done"])];
    };

    let reply: Reply;
    if (command === "/quit") {
      send(c, [t(["!fatal", "=message=session terminated on request"])]);
      c.socket.end();
      return;
    }
    if (command === "/login") reply = login(c, attrs, trap, t);
    else if (c.user === undefined) reply = trap("not logged in");
    else if (command === "/cancel") reply = [t(["!done"])]; // every command has already completed
    else reply = run(command, attrs, queries, trap, t);

    if (options.faults?.swallowReply?.(command, attrs)) {
      stats.faultsInjected++;
      return;
    }
    if (options.faults?.cutReplyMidSentence?.(command, attrs)) {
      stats.faultsInjected++;
      const bytes = Buffer.concat(reply.map((s) => encodeSentence(s)));
      c.socket.write(bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))));
      c.socket.destroy();
      return;
    }
    send(c, reply);
  };

  const login = (c: Conn, attrs: Record<string, string>, trap: (m: string) => Reply, t: (s: string[]) => string[]): Reply => {
    const name = attrs.name ?? "";
    const expected = state.users.get(name);
    if (attrs.response !== undefined) {
      const ok =
        expected !== undefined &&
        c.challenge !== undefined &&
        attrs.response === "00" + createHash("md5").update(Buffer.concat([Buffer.from([0]), Buffer.from(expected, "latin1"), c.challenge])).digest("hex");
      c.challenge = undefined;
      if (!ok) {
        stats.loginFailures++;
        return trap("cannot log in");
      }
      c.user = name;
      stats.logins++;
      return [t(["!done"])];
    }
    if (options.legacyLogin) {
      c.challenge = randomBytes(16);
      return [t(["!done", `=ret=${c.challenge.toString("hex")}`])];
    }
    if (expected === undefined || attrs.password !== expected) {
      stats.loginFailures++;
      return trap("invalid user name or password (6)");
    }
    c.user = name;
    stats.logins++;
    return [t(["!done"])];
  };

  const run = (command: string, attrs: Record<string, string>, queries: string[], trap: (m: string, cat?: number) => Reply, t: (s: string[]) => string[]): Reply => {
    const slash = command.lastIndexOf("/");
    const menu = command.slice(0, slash);
    const verb = command.slice(slash + 1);
    if (!RouterState.menus.includes(menu)) return trap("no such command prefix", 0);
    try {
      switch (verb) {
        case "print":
        case "getall": {
          let rows = state.print(menu);
          if (queries.length) rows = rows.filter((r) => matchQuery(r, queries));
          if ("count-only" in attrs) return [t(["!done", `=ret=${rows.length}`])];
          const props = attrs[".proplist"]?.split(",").filter(Boolean);
          if (!rows.length && options.emptyReplies) return [t(["!empty"]), t(["!done"])];
          return [...rows.map((r) => t(["!re", ...recordWords(r, props)])), t(["!done"])];
        }
        case "add":
          return [t(["!done", `=ret=${state.add(menu, withoutMeta(attrs))}`])];
        case "set":
          for (const id of targets(attrs)) state.set(menu, id, withoutMeta(attrs));
          return [t(["!done"])];
        case "remove":
          for (const id of targets(attrs)) state.remove(menu, id);
          return [t(["!done"])];
        case "unset":
          for (const id of targets(attrs)) state.unset(menu, id, attrs["value-name"] ?? "");
          return [t(["!done"])];
        default:
          return trap("no such command", 0);
      }
    } catch (err) {
      if (err instanceof RosCommandError || err instanceof QueryError) return trap(err.message);
      // A bug in a menu must not take the whole (simulated) router down.
      stats.internalErrors++;
      return trap(`internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const onConnection = (socket: Socket): void => {
    if (conns.size >= connectionsMax) {
      stats.rejectedConnections++;
      socket.destroy();
      return;
    }
    stats.connections++;
    const c: Conn = { socket, decoder: new SentenceDecoder(options.limits), user: undefined, challenge: undefined };
    conns.add(c);
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.on("close", () => conns.delete(c));
    socket.on("data", (chunk: Buffer) => {
      let sentences: string[][];
      try {
        sentences = c.decoder.push(chunk);
      } catch (err) {
        if (!(err instanceof RosProtocolError)) throw err;
        stats.protocolErrors++;
        send(c, [["!fatal", `=message=${err.message}`]]);
        socket.destroy();
        return;
      }
      for (const s of sentences) {
        if (socket.destroyed) break;
        onSentence(c, s);
      }
    });
  };

  return {
    start() {
      return new Promise<number>((resolve, reject) => {
        let s: Server;
        if (options.tls) {
          // onConnection gets the socket after the handshake ("secureConnection").
          const t = createTlsServer({ key: options.tls.key, cert: options.tls.cert }, onConnection);
          t.on("tlsClientError", () => stats.tlsErrors++);
          s = t;
        } else {
          s = createServer(onConnection);
        }
        s.once("error", reject);
        s.listen(options.port, options.host ?? "127.0.0.1", () => {
          s.off("error", reject);
          server = s;
          const addr = s.address();
          boundPort = typeof addr === "object" && addr ? addr.port : 0;
          resolve(boundPort);
        });
      });
    },
    async stop() {
      const s = server;
      server = undefined;
      for (const c of conns) c.socket.destroy();
      conns.clear();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    get port() {
      return boundPort;
    },
    stats,
  };
}

function withoutMeta(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (k !== ".id" && k !== "numbers" && k !== ".proplist") out[k] = v;
  return out;
}

function targets(attrs: Record<string, string>): string[] {
  const list = attrs[".id"] ?? attrs.numbers;
  if (!list) throw new RosCommandError("no such item", "not-found");
  return list.split(",").filter(Boolean);
}

function recordWords(r: RosRecord, props: string[] | undefined): string[] {
  const keys = props ?? Object.keys(r);
  return keys.filter((k) => r[k] !== undefined).map((k) => `=${k}=${r[k]}`);
}

class QueryError extends Error {}

/**
 * RouterOS API query words (without the leading `?`): `name=value`, `name` (has),
 * `-name` (lacks), `<name=v`, `>name=v`, and `#` stack operations (`!`, `&`, `|`, `.`,
 * digits). What is left on the stack is ANDed, as on RouterOS.
 */
export function matchQuery(r: Record<string, string>, queries: readonly string[]): boolean {
  const stack: boolean[] = [];
  const pop = (): boolean => {
    const v = stack.pop();
    if (v === undefined) throw new QueryError("invalid query");
    return v;
  };
  const cmp = (a: string | undefined, b: string): number => {
    if (a === undefined) return NaN;
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
  };
  for (const raw of queries) {
    // `?=name=value` is the same query as `?name=value`.
    const q = raw.startsWith("=") ? raw.slice(1) : raw;
    if (q.startsWith("#")) {
      for (const op of q.slice(1)) {
        if (op === "!") stack.push(!pop());
        else if (op === "&") stack.push(pop() && pop());
        else if (op === "|") {
          const a = pop();
          const b = pop();
          stack.push(a || b);
        } else if (op === ".") continue;
        else if (/[0-9]/.test(op)) {
          const v = stack[stack.length - 1 - Number(op)];
          if (v === undefined) throw new QueryError("invalid query");
          stack.push(v);
        } else throw new QueryError("invalid query");
      }
      continue;
    }
    const op = q[0];
    if (op === "-") stack.push(r[q.slice(1)] === undefined);
    else if (op === "<" || op === ">") {
      const eq = q.indexOf("=");
      if (eq < 0) throw new QueryError("invalid query");
      const c = cmp(r[q.slice(1, eq)], q.slice(eq + 1));
      stack.push(op === "<" ? c < 0 : c > 0);
    } else {
      const eq = q.indexOf("=");
      if (eq < 0) stack.push(r[q] !== undefined);
      else stack.push(r[q.slice(0, eq)] === q.slice(eq + 1));
    }
  }
  return stack.every(Boolean);
}
