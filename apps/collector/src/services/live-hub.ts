// Socket.IO server for the web app's live pages (protocol: docs/architecture.md "Live
// protocol"). State is pulled from the database on one tick per second and pushed per
// room only when it changed (plus once to a socket when it subscribes); enforcement
// results are pushed immediately.
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { jwtVerify } from "jose";
import { Server, type Socket } from "socket.io";
import type { BillingProgressEvent } from "../billing/scheduler";
import type { Logger } from "../log";
import { createChangeGate, fingerprintOf } from "./change-gate";

export type OperatorRole = "admin" | "noc" | "support" | "manager" | "dealer" | "compliance";

export interface LiveClaims {
  operatorId: number;
  role: OperatorRole;
  dealerId: number | null;
}

export interface NocState {
  at: string;
  online: number;
  routers: {
    id: number;
    name: string;
    online: number;
    inputBps: string;
    outputBps: string;
    lastSeenAt: string | null;
    /** Router health from reconciliation: RouterOS API/REST login on the last run. */
    api?: "ok" | "failed" | "none";
    apiError?: string | null;
    reconciledAt?: string | null;
    /** Drift repairs done on this router since the collector started. */
    repairs?: number;
  }[];
  newest: {
    sessionId: string;
    subscriberId: number | null;
    accountNo: string | null;
    name: string | null;
    username: string;
    routerName: string;
    framedIp: string | null;
    startedAt: string;
  }[];
  counters: {
    authAccepts: number;
    authRejects: number;
    dropped: number;
    /** NAT syslog ingest (docs/nat-ingest.md); absent when it is off. */
    nat?: { received: number; stored: number; quarantined: number; skipped: number; dropped: number; spooled: number; replayed: number };
  };
  /** Sessions marked stale (no accounting for 3 interim intervals). */
  stale?: number;
}

export interface SubscriberSessionState {
  subscriberId: number;
  session: null | {
    id: string;
    routerName: string;
    acctSessionId: string;
    framedIp: string | null;
    callingStationId: string | null;
    startedAt: string;
    lastUpdateAt: string;
    inputOctets: string;
    outputOctets: string;
    inputBps: string;
    outputBps: string;
    rateLimit: string | null;
  };
}

export interface EnforcementResultEvent {
  actionId: string;
  subscriberId: number;
  kind: string;
  status: "acked" | "nak" | "timeout" | "failed";
  routerLatencyMs: number | null;
  totalLatencyMs: number | null;
  errorCause: number | null;
  message: string;
  /** Which path answered (coa = CoA-Request, disconnect = Disconnect-Request, api/rest = RouterOS). */
  path?: "coa" | "disconnect" | "api" | "rest" | null;
  /** RouterOS adapter error code (connect, login, timeout, trap ...). */
  errorCode?: string | null;
  /** Retries exhausted or a permanent failure: NOC staff must look. */
  escalated?: boolean;
}

/** "escalations:changed" to the noc room; the action id only (screens re-read their own scoped lists). */
export interface EscalationChangedEvent {
  actionId: string;
}

/** Where the hub gets its state; the DB-backed one is live-queries.ts. */
export interface LiveStateSource {
  nocState(): Promise<NocState>;
  subscriberSessions(subscriberIds: number[]): Promise<SubscriberSessionState[]>;
  /** The subscriber's dealer id, or undefined when the subscriber does not exist. */
  subscriberDealer(subscriberId: number): Promise<number | null | undefined>;
}

export interface LiveHubConfig {
  host?: string;
  port: number;
  corsOrigin: string | string[];
  authSecret: string;
  /** State tick; also the minimum interval between two pushes to one room. */
  tickMs?: number;
  /** Subscriber rooms one socket may join; beyond this subscribe is refused. */
  roomsPerSocketMax?: number;
}

export interface LiveHub {
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
  emitEnforcementResult(event: EnforcementResultEvent): void;
  /** Billing/dunning run progress, to the `noc` room (staff). */
  emitBillingProgress(event: BillingProgressEvent): void;
  /** An escalation was acknowledged elsewhere (NOTIFY escalation_changed): NOC screens refresh their counts and lists. */
  emitEscalationChanged(event: EscalationChangedEvent): void;
  readonly port: number;
  readonly counters: { connections: number; authFailures: number; pushes: number; tickErrors: number };
}

const staffRoles = new Set<OperatorRole>(["admin", "noc", "support", "manager"]);
const roles = new Set<OperatorRole>(["admin", "noc", "support", "manager", "dealer", "compliance"]);

export async function verifyLiveToken(token: unknown, secret: string): Promise<LiveClaims> {
  if (typeof token !== "string" || token.length === 0) throw new Error("missing token");
  const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ["HS256"] });
  const operatorId = Number(payload.sub);
  const role = payload.role as OperatorRole;
  if (!Number.isInteger(operatorId) || !roles.has(role)) throw new Error("bad claims");
  if (payload.exp === undefined) throw new Error("token without exp");
  const dealerRaw = payload.dealerId;
  const dealerId = dealerRaw === undefined || dealerRaw === null ? null : Number(dealerRaw);
  if (role === "dealer" && (dealerId === null || !Number.isInteger(dealerId))) throw new Error("dealer token without dealerId");
  return { operatorId, role, dealerId };
}

type Ack = (res: { ok: boolean; error?: string }) => void;
const ackOf = (args: unknown[]): Ack => {
  const last = args[args.length - 1];
  return typeof last === "function" ? (last as Ack) : () => undefined;
};

export function createLiveHub(config: LiveHubConfig, source: LiveStateSource, log: Logger): LiveHub {
  const tickMs = config.tickMs ?? 1000;
  const roomsPerSocketMax = config.roomsPerSocketMax ?? 50;
  const gate = createChangeGate(tickMs);
  const counters = { connections: 0, authFailures: 0, pushes: 0, tickErrors: 0 };
  let http: HttpServer | null = null;
  let io: Server | null = null;
  let ticker: NodeJS.Timeout | null = null;
  let ticking = false;
  let boundPort = 0;

  const subscriberRooms = (server: Server): number[] => {
    const ids: number[] = [];
    for (const [room, members] of server.sockets.adapter.rooms) {
      if (members.size > 0 && room.startsWith("subscriber:")) ids.push(Number(room.slice("subscriber:".length)));
    }
    return ids;
  };

  const tick = async () => {
    if (!io || ticking) return; // a slow query skips a tick instead of piling up
    ticking = true;
    try {
      const now = Date.now();
      const rooms = io.sockets.adapter.rooms;
      if ((rooms.get("noc")?.size ?? 0) > 0) {
        const state = await source.nocState();
        if (gate.shouldPush("noc", fingerprintOf(state), now)) {
          io.to("noc").emit("noc:state", state);
          counters.pushes++;
        }
      } else gate.forget("noc");
      const ids = subscriberRooms(io);
      if (ids.length > 0) {
        for (const state of await source.subscriberSessions(ids)) {
          const room = `subscriber:${state.subscriberId}`;
          if (gate.shouldPush(room, fingerprintOf(state), now)) {
            io.to(room).emit("subscriber:session", state);
            counters.pushes++;
          }
        }
      }
    } catch (err) {
      counters.tickErrors++;
      log.warn("live state tick failed", { error: (err as Error).message });
    } finally {
      ticking = false;
    }
  };

  const onConnection = (socket: Socket) => {
    counters.connections++;
    const claims = socket.data.claims as LiveClaims;
    let joined = 0;
    socket.on("subscribe:noc", async (...args: unknown[]) => {
      const ack = ackOf(args);
      if (!staffRoles.has(claims.role)) return ack({ ok: false, error: "forbidden" });
      await socket.join("noc");
      ack({ ok: true });
      try {
        socket.emit("noc:state", await source.nocState());
      } catch (err) {
        log.warn("noc state on subscribe failed", { error: (err as Error).message });
      }
    });
    socket.on("subscribe:subscriber", async (...args: unknown[]) => {
      const ack = ackOf(args);
      const body = args[0] as { subscriberId?: unknown } | undefined;
      const subscriberId = Number(body?.subscriberId);
      if (!Number.isInteger(subscriberId) || subscriberId <= 0) return ack({ ok: false, error: "bad subscriberId" });
      if (joined >= roomsPerSocketMax) return ack({ ok: false, error: "too many subscriptions" });
      try {
        if (!staffRoles.has(claims.role)) {
          // Dealers see only their own subscribers; other non-staff roles see none.
          const owner = await source.subscriberDealer(subscriberId);
          if (claims.role !== "dealer" || owner === undefined || owner !== claims.dealerId) {
            return ack({ ok: false, error: "forbidden" });
          }
        }
        const room = `subscriber:${subscriberId}`;
        if (!socket.rooms.has(room)) joined++;
        await socket.join(room);
        ack({ ok: true });
        const [state] = await source.subscriberSessions([subscriberId]);
        socket.emit("subscriber:session", state ?? { subscriberId, session: null });
      } catch (err) {
        log.warn("subscribe:subscriber failed", { error: (err as Error).message });
        ack({ ok: false, error: "internal error" });
      }
    });
    socket.on("unsubscribe:subscriber", async (...args: unknown[]) => {
      const ack = ackOf(args);
      const body = args[0] as { subscriberId?: unknown } | undefined;
      const room = `subscriber:${Number(body?.subscriberId)}`;
      if (socket.rooms.has(room)) {
        joined--;
        await socket.leave(room);
      }
      ack({ ok: true });
    });
  };

  return {
    async start() {
      http = createServer();
      io = new Server(http, {
        cors: { origin: config.corsOrigin, credentials: true },
        // A NOC wall left alone for days: keep the connection honest with pings.
        pingInterval: 20_000,
        pingTimeout: 20_000,
        maxHttpBufferSize: 64 * 1024,
      });
      io.use((socket, next) => {
        const auth = socket.handshake.auth as { token?: unknown } | undefined;
        verifyLiveToken(auth?.token, config.authSecret).then(
          (claims) => {
            socket.data.claims = claims;
            next();
          },
          (err: Error) => {
            counters.authFailures++;
            log.debug("live connection refused", { reason: err.message });
            next(new Error("unauthorized"));
          },
        );
      });
      io.on("connection", onConnection);
      await new Promise<void>((resolve, reject) => {
        http!.once("error", reject);
        http!.listen(config.port, config.host ?? "0.0.0.0", () => resolve());
      });
      boundPort = (http.address() as AddressInfo).port;
      ticker = setInterval(() => void tick(), tickMs);
      return { port: boundPort };
    },
    async stop() {
      if (ticker) clearInterval(ticker);
      ticker = null;
      if (io) {
        io.disconnectSockets(true);
        await new Promise<void>((resolve) => io!.close(() => resolve()));
      }
      io = null;
      http = null;
    },
    emitEnforcementResult(event) {
      io?.to([`subscriber:${event.subscriberId}`, "noc"]).emit("enforcement:result", event);
    },
    emitBillingProgress(event) {
      io?.to("noc").emit("billing:progress", event);
    },
    emitEscalationChanged(event) {
      io?.to("noc").emit("escalations:changed", event);
    },
    get port() {
      return boundPort;
    },
    counters,
  };
}
