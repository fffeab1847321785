// The RouterOS 7 REST API (/rest/...) over a RouterState, for the REST adapter. Semantics
// as on RouterOS 7: GET lists or reads one record, PUT creates (and returns the record),
// PATCH updates, DELETE removes (204), POST /rest/<menu>/<command> runs an API command
// (print takes `.proplist` and `.query`). Errors are {"error":code,"message":..,"detail":..}.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { matchQuery } from "./api-server";
import { RosCommandError, RouterState, type RosRecord } from "./state";

export interface RouterOsRestServerOptions {
  state: RouterState;
  host?: string;
  port: number;
  /** HTTPS with this key and certificate (PEM); absent: plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Request bodies beyond this are refused with 413. Default 64 KiB. */
  bodyBytesMax?: number;
}

export interface RouterOsRestServerStats {
  requests: number;
  authFailures: number;
  errors: number;
  /** TLS handshakes that failed (a client that refused our certificate, a plain-text client). */
  tlsErrors: number;
}

export interface RouterOsRestServer {
  start(): Promise<number>;
  stop(): Promise<void>;
  readonly port: number;
  readonly stats: RouterOsRestServerStats;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail?: string,
  ) {
    super(detail ?? String(status));
  }
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error" };

export function createRouterOsRestServer(options: RouterOsRestServerOptions): RouterOsRestServer {
  const { state } = options;
  const bodyBytesMax = options.bodyBytesMax ?? 64 * 1024;
  const stats: RouterOsRestServerStats = { requests: 0, authFailures: 0, errors: 0, tlsErrors: 0 };
  let server: Server | undefined;
  let boundPort = 0;

  const authorised = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization;
    if (!h?.startsWith("Basic ")) return false;
    const decoded = Buffer.from(h.slice(6), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const expected = state.users.get(decoded.slice(0, colon));
    return expected !== undefined && expected === decoded.slice(colon + 1);
  };

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > bodyBytesMax) throw new HttpError(413, `body exceeds ${bodyBytesMax} bytes`);
      chunks.push(chunk);
    }
    if (!size) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new HttpError(400, "JSON parse error");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, "expected a JSON object");
    return parsed as Record<string, unknown>;
  };

  const fields = (body: Record<string, unknown>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      if (k === ".id" || k === "numbers" || k === ".proplist" || k === ".query") continue;
      if (v === null || typeof v === "object") throw new HttpError(400, `invalid value for ${k}`);
      out[k] = String(v as string | number | boolean);
    }
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++;
    if (!authorised(req)) {
      stats.authFailures++;
      res.setHeader("WWW-Authenticate", 'Basic realm="REST API"');
      throw new HttpError(401);
    }
    const url = new URL(req.url ?? "/", "http://router");
    if (!url.pathname.startsWith("/rest/")) throw new HttpError(404, "no such command or directory");
    let parts: string[];
    try {
      parts = url.pathname.slice(5).split("/").filter(Boolean).map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, "malformed path");
    }
    const method = req.method ?? "GET";
    // The longest known menu that prefixes the path; what follows is an id or a command.
    const path = "/" + parts.join("/");
    const menu = RouterState.menus.filter((m) => path === m || path.startsWith(m + "/")).sort((a, b) => b.length - a.length)[0];
    if (!menu) throw new HttpError(400, "no such command or directory (" + path + ")");
    const rest = path.slice(menu.length + 1);
    const body = method === "GET" || method === "DELETE" ? {} : await readBody(req);

    if (method === "POST") {
      // POST /rest/<menu>/<command>: the API command with its arguments in the body.
      switch (rest) {
        case "print": {
          const q = body[".query"];
          const queries = Array.isArray(q) ? q.map(String) : [];
          const pl = body[".proplist"];
          const proplist = Array.isArray(pl) ? pl.map(String) : typeof pl === "string" ? pl.split(",") : undefined;
          return json(res, 200, props(state.print(menu).filter((r) => matchQuery(r, queries)), proplist));
        }
        case "add":
          return json(res, 200, { ret: state.add(menu, fields(body)) });
        case "set":
          for (const id of idsOf(body)) state.set(menu, id, fields(body));
          return json(res, 200, []);
        case "remove":
          for (const id of idsOf(body)) state.remove(menu, id);
          return json(res, 200, []);
        case "unset": {
          const property = body["value-name"];
          if (typeof property !== "string") throw new HttpError(400, "missing value-name");
          for (const id of idsOf(body)) state.unset(menu, id, property);
          return json(res, 200, []);
        }
        default:
          throw new HttpError(400, "no such command");
      }
    }
    if (rest.includes("/")) throw new HttpError(400, "no such command or directory");
    const id = rest || undefined;
    const findOne = (): RosRecord => {
      const r = state.print(menu).find((x) => x[".id"] === id || (!id!.startsWith("*") && x.name === id));
      if (!r) throw new HttpError(404, "no such item");
      return r;
    };
    switch (method) {
      case "GET": {
        if (id) return json(res, 200, findOne());
        const proplist = url.searchParams.get(".proplist")?.split(",");
        const filters = [...url.searchParams].filter(([k]) => k !== ".proplist").map(([k, v]) => `${k}=${v}`);
        return json(res, 200, props(state.print(menu).filter((r) => matchQuery(r, filters)), proplist));
      }
      case "PUT": {
        if (id) throw new HttpError(400, "PUT creates; use PATCH to change " + id);
        const newId = state.add(menu, fields(body));
        return json(res, 201, state.print(menu).find((r) => r[".id"] === newId));
      }
      case "PATCH": {
        if (!id) throw new HttpError(400, "missing id");
        const current = findOne();
        return json(res, 200, state.set(menu, current[".id"], fields(body)));
      }
      case "DELETE": {
        if (!id) throw new HttpError(400, "missing id");
        state.remove(menu, findOne()[".id"]);
        res.writeHead(204).end();
        return;
      }
      default:
        throw new HttpError(405);
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      stats.errors++;
      let status = 500;
      let detail: string | undefined = err instanceof Error ? err.message : String(err);
      if (err instanceof HttpError) [status, detail] = [err.status, err.detail];
      else if (err instanceof RosCommandError) status = err.kind === "not-found" ? 404 : 400;
      else if (err instanceof Error && err.message === "invalid query") status = 400;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      json(res, status, detail === undefined ? { error: status, message: STATUS_TEXT[status] ?? "Error" } : { error: status, message: STATUS_TEXT[status] ?? "Error", detail });
    });
  };

  return {
    start() {
      return new Promise<number>((resolve, reject) => {
        let s: Server;
        if (options.tls) {
          const t = createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, onRequest);
          t.on("tlsClientError", () => stats.tlsErrors++);
          s = t;
        } else {
          s = createServer(onRequest);
        }
        s.keepAliveTimeout = 5000;
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
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    },
    get port() {
      return boundPort;
    },
    stats,
  };
}

function props(rows: RosRecord[], proplist: string[] | undefined): Array<Record<string, string>> {
  if (!proplist?.length) return rows;
  return rows.map((r) => Object.fromEntries(proplist.filter((k) => r[k] !== undefined).map((k) => [k, r[k]!])));
}

function idsOf(body: Record<string, unknown>): string[] {
  const v = body[".id"] ?? body.numbers;
  if (typeof v !== "string" || !v) throw new HttpError(400, "missing .id");
  return v.split(",").filter(Boolean);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
